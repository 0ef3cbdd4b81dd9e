# From Python to PTX — the README's two commands, and a few for maintainers.
#
#   make lab    set up .venv if needed, then open JupyterLab on notebook 00
#   make test   set up .venv (with the test tools) if needed, then run the whole test suite
#   make slides the notebooks as reveal.js decks in build/slides/ (docs/instructors.md)
#
# Set-up (tools/setup_venv.py) needs Python >= 3.10 (make PYTHON=python3.12 to choose one),
# a C compiler and access to PyPI. It says what it does, how long it took and how big .venv
# is; it rebuilds a broken .venv it made and names one it did not make. Where nvidia-smi
# shows a GPU, the CuPy wheel matching the driver is installed too (tools/gpu_packages.sh),
# also when the GPU appears after set-up.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
ARGS   ?=
PYTEST_ARGS ?=

.PHONY: lab test setup setup-test labs course-map clean-notebooks doctor ladder lint gpu-check \
	carry-wheels cupy triton slides

# The set-up script runs under the course's Python once .venv works, else under $(PYTHON);
# it returns at once when .venv is current.
SETUP = @if $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then \
	  py=$(PY); \
	elif $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then \
	  py=$(PYTHON); \
	else \
	  echo "setup: the course needs Python 3.10 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1 || echo 'not found'). Name another: make PYTHON=python3.12 ..."; exit 1; \
	fi; \
	command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || { \
	  echo "setup: no C compiler found (cc or gcc). On Debian/Ubuntu: sudo apt-get install gcc"; exit 1; }; \
	$$py tools/setup_venv.py --python '$(PYTHON)' --venv '$(VENV)'

# `make lab` installs what a student needs; `make test` adds the test tools.
setup:
	$(SETUP) lab

setup-test:
	$(SETUP) test

# The repository's root is served, so labs/, solutions/ and every link in the notebooks open.
lab: setup
	$(PY) tools/lab.py $(ARGS)

test: setup-test
	$(PY) -m pytest $(PYTEST_ARGS)

# CuPy for this machine's GPU, by hand (make lab does it too when a GPU appears).
cupy: setup
	@reqs=$$(sh tools/gpu_packages.sh); test -n "$$reqs" || { \
	  echo "cupy: no NVIDIA GPU whose driver the course supports here, so nothing to install"; exit 1; }; \
	$(PY) -m pip install $$reqs

# Triton, the optional extra (about 1 GB; no GPU needed to compile): notebook 04 then
# compiles its Triton section live instead of showing the recorded stages.
triton: setup
	$(PY) -m pip install -e '.[triton]'

doctor: setup
	$(PY) -m py2ptx doctor

# Every rung this machine runs, validated and timed at one n: make ladder ARGS="--n 2048 --record"
ladder: setup
	$(PY) -m py2ptx ladder $(ARGS)

labs: setup
	$(PY) tools/make_labs.py

course-map: setup
	$(PY) tools/course_map.py

clean-notebooks: setup
	$(PY) tools/clean_notebooks.py
	$(PY) tools/make_labs.py

# Lecture decks: each notebook executed (at most 150 s a cell), then a reveal.js deck in
# build/slides/ (tools/slides.py). EXECUTE= builds them from the cells alone, in seconds.
EXECUTE ?= --execute
slides: setup
	$(PY) tools/slides.py --build build/slides $(EXECUTE)

lint: setup-test
	$(VENV)/bin/ruff check .

# The GPU check (needs an NVIDIA GPU): GPU tests, every notebook live, a recorded run.
gpu-check: setup-test
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

student-tree: setup
	$(PY) tools/student_tree.py $(STUDENT_TREE) --commit

hub-link: setup
	$(PY) tools/hub_link.py "$(HUB)" "$(NOTEBOOK)" --repo "$(REPO)"
