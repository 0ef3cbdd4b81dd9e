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
            ("CPython", "gcc", "Numba (LLVM, NVVM)", "NVCC / NVRTC", "Triton"),
            (),
            "Turn source into something lower: bytecode for an interpreter, machine "
            "code for the CPU, PTX for the GPU (the start of the code path).",
        ),
        Layer(
            "runtime",
            "CUDA runtime and driver",
            ("CUDA runtime", "CUDA driver: load, JIT, launch"),
            ("OpenCL", "Vulkan", "DirectX"),
            "The control path: the runtime calls the driver, which loads GPU code, "
            "moves memory and launches kernels. Handed PTX, the driver JIT-compiles it "
            "(its own ptxas) into SASS for the GPU it finds. OpenCL, Vulkan and DirectX "
            "are other host APIs to a GPU's driver stack.",
        ),
        Layer(
            "ptx",
            "PTX (virtual ISA)",
            ("PTX: .version (ISA), .target (sm_XX)",),
            (),
            "NVIDIA's virtual instruction set, not what the chip runs. It is versioned "
            "(.version: the PTX ISA) and targeted (.target sm_XX: the oldest GPU it "
            "needs); PTX for a plain target runs on later GPUs through the driver's JIT, "
            "PTX for an arch-specific one (sm_90a) only on that architecture. Writing "
            "PTX by hand is still inside CUDA's toolchain.",
        ),
        Layer(
            "sass",
            "SASS (machine code)",
            ("ptxas", "SASS: sm_75, sm_90, ..."),
            (),
            "The GPU's real instructions for one architecture (sm_75, sm_90, ...), "
            "made from PTX by ptxas: offline (in NVCC or NVRTC) or JIT in the driver.",
        ),
        Layer(
            "hardware",
            "Hardware",
            ("the GPU: SMs", "L2 cache", "HBM"),
            (),
            "Streaming multiprocessors run warps of 32 threads; all SMs share the L2 "
            "cache and the high-bandwidth memory behind it.",
        ),
    )
}
