#!/bin/sh
# Download, here, the Jupyter packages the lent GPU machine lacks (it has Python 3.12,
# numpy, matplotlib, cupy, numba-cuda and pytest, but no Jupyter stack and no network).
# They land in .whl/ (ignored by git); the GPU check's command installs them there.
# Tried here under Python 3.12 with PYTHONPATH=/tmp/site: every notebook and solution runs.
set -eu
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
rm -rf .whl
python3 -m pip download --quiet --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux1_x86_64 --platform any \
  -d .whl nbclient ipykernel ipywidgets nbformat matplotlib-inline
# numpy<2.5: the machine's numpy 2.5.2 has no np.row_stack, which its numba-cuda 0.30.4
# uses, so every numba.cuda kernel failed to compile there (seen 2026-11-28). PyPI's
# newest numpy here is 2.4.6, as in the course's own environment.
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl "numpy>=2.0,<2.5"
# The SASS readers too (5 MB), so notebook 04 does not depend on that image's CUDA folder.
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl "nvidia-cuda-cuobjdump>=13.2,<14" "nvidia-cuda-nvdisasm>=13.2,<14"
# CCCL's headers (notebook 05's CUDA C++ variants: cuda::annotated_ptr, cuda::ptx), pinned
# to the release of the NVRTC the course compiles with, as in pyproject.toml.
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform any -d .whl "nvidia-cuda-cccl==13.0.*"
du -sh .whl
