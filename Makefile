# From Python to PTX — the README's two commands, and a few for maintainers.
#
#   make lab    set up .venv if needed, then open JupyterLab on notebook 00
#   make test   set up .venv if needed, then run the whole test suite
#
# Set-up needs Python >= 3.10, a C compiler and access to PyPI. Where nvidia-smi shows a
# GPU, the CuPy wheel matching the driver is installed too (tools/gpu_packages.sh).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=
PYTEST_ARGS ?=

.PHONY: lab test setup labs course-map clean-notebooks doctor ladder lint gpu-check carry-wheels

# JupyterLab refuses to start as root unless told; containers and cloud VMs often run as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

# JUPYTER_PATH puts this environment's "python3" kernel first, ahead of any user-wide one
# that might point at another Python without the course's packages.
lab: $(STAMP)
	JUPYTER_PATH=$(abspath $(VENV))/share/jupyter $(VENV)/bin/jupyter lab notebooks/00-the-stack.ipynb $(ROOT_FLAG) $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

setup: $(STAMP)

$(STAMP): pyproject.toml tools/gpu_packages.sh
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { \
	  echo "The course needs Python 3.10 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1). Run: make PYTHON=python3.11 ..."; exit 1; }
	@command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || { \
	  echo "No C compiler found (cc or gcc). On Debian/Ubuntu: sudo apt-get install gcc"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "Could not create $(VENV). On Debian/Ubuntu: sudo apt-get install python3-venv"; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[lab,test]' $$(sh tools/gpu_packages.sh)
	@touch $(STAMP)
	@echo "Set-up done: $(VENV) holds the course's Python, packages and CUDA tools."

doctor: $(STAMP)
	$(PY) -m py2ptx doctor

# Every rung this machine runs, validated and timed at one n: make ladder ARGS="--n 2048 --record"
ladder: $(STAMP)
	$(PY) -m py2ptx ladder $(ARGS)

labs: $(STAMP)
	$(PY) tools/make_labs.py

course-map: $(STAMP)
	$(PY) tools/course_map.py

clean-notebooks: $(STAMP)
	$(PY) tools/clean_notebooks.py
	$(PY) tools/make_labs.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The GPU check (needs an NVIDIA GPU): GPU tests, every notebook live, a recorded run.
gpu-check: $(STAMP)
	$(PY) tools/gpu_check.py $(ARGS)

# Wheels of the Jupyter stack for a GPU machine without one (see tools/gpu_check.py).
carry-wheels:
	sh tools/carry_wheels.sh

# Instructors (docs/instructors.md): the tree students receive, committed on branch `student`
# of $(STUDENT_TREE) (never solutions/), and the nbgitpuller link that hands it out:
#   make hub-link HUB=https://hub.example.edu REPO=https://github.com/ORG/py2ptx [NOTEBOOK=labs/...]
.PHONY: student-tree hub-link
STUDENT_TREE ?= build/student
NOTEBOOK ?= notebooks/00-the-stack.ipynb

student-tree: $(STAMP)
	$(PY) tools/student_tree.py $(STUDENT_TREE) --commit

hub-link: $(STAMP)
	$(PY) tools/hub_link.py "$(HUB)" "$(NOTEBOOK)" --repo "$(REPO)"
