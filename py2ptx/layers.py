"""The layers of the hardware-software stack, top to bottom (notebook 00).

Data only, and a leaf of the package: the rung registry (:mod:`py2ptx.ladder`), the
doctor and the plots all name layers by these keys. :mod:`py2ptx.stack` shows the real
artifact each layer makes of one compare-and-swap.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layer:
    key: str
    title: str
    members: tuple[str, ...]  # what lives at this layer
    beside: tuple[str, ...]  # alternatives at the same layer (not used in the course)
    summary: str


LAYERS: dict[str, Layer] = {
    layer.key: layer
    for layer in (
        Layer(
            "application",
            "Application",
            ("Python", "PyTorch"),
            (),
            "The program as its author wrote it: what to compute, not how.",
        ),
        Layer(
            "compilers",
            "Languages and compilers",
            ("CPython", "gcc", "LLVM (Numba)", "NVCC / NVRTC", "Triton"),
            (),
            "Turn source into something lower: bytecode for an interpreter, machine "
            "code for the CPU, PTX for the GPU.",
        ),
        Layer(
            "runtime",
            "CUDA runtime and driver",
            ("CUDA runtime", "CUDA driver"),
            ("OpenCL", "DirectX"),
            "Load GPU code, move memory, launch kernels. The driver also JIT-compiles "
            "PTX it is handed into SASS for the GPU it finds.",
        ),
        Layer(
            "ptx",
            "PTX (virtual ISA)",
            ("PTX",),
            (),
            "NVIDIA's virtual instruction set: stable across GPU generations, not what "
            "the chip runs. Writing PTX by hand is still inside CUDA's toolchain.",
        ),
        Layer(
            "sass",
            "SASS (machine code)",
            ("ptxas", "SASS"),
            (),
            "The GPU's real instructions for one architecture (sm_75, sm_90, ...), "
            "made from PTX by ptxas (in NVCC, NVRTC or the driver).",
        ),
        Layer(
            "hardware",
            "Hardware",
            ("SMs", "L2 cache", "HBM"),
            (),
            "Streaming multiprocessors run warps of 32 threads; all SMs share the L2 "
            "cache and the high-bandwidth memory behind it.",
        ),
    )
}
