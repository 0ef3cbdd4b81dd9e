#!/bin/sh
# Print the pip requirements that let CuPy run on this machine's NVIDIA GPU, or nothing.
# Used by the Makefile: where `nvidia-smi` shows a GPU, pick the CuPy wheel that matches the
# CUDA major version the driver supports. Messages go to stderr; requirements to stdout.
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "No NVIDIA GPU (nvidia-smi): CPU-only setup. GPU rungs run in the simulator or show recorded runs." >&2
    exit 0
fi
major=$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9][0-9]*\)\..*/\1/p' | head -n 1)
case "$major" in
    13) echo "GPU found, driver supports CUDA 13: adding cupy-cuda13x" >&2
        echo "cupy-cuda13x>=13.6" ;;
    12) echo "GPU found, driver supports CUDA 12: adding cupy-cuda12x and its CUDA 12 runtime" >&2
        echo "cupy-cuda12x>=13.6 nvidia-cuda-runtime-cu12 nvidia-cuda-nvrtc-cu12" ;;
    *)  echo "GPU found, but its driver supports CUDA '${major:-unknown}': the course needs a driver for CUDA 12 or 13. Skipping CuPy." >&2 ;;
esac
