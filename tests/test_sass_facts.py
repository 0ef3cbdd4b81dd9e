"""SASS facts of the kernels near the hardware's limit, checked on the CPU (issue 12).

Compiled by NVRTC for sm_90 (the recorded H200) and read back with ``cuobjdump``
(:func:`py2ptx.cudatools.resource_usage`, :func:`py2ptx.cudatools.sass_for`): the
keys that should be in registers are (no local memory, registers within what 1,024
threads may have), the bitonic steps do no integer division, and the register
odd-even sort spends K integer min/max per thread per phase. ``pytest -s`` prints the
numbers (registers per thread, instructions per loop) for notebook 03 and the notes.
"""

from __future__ import annotations

import collections
import re

import pytest

from py2ptx import cudatools, gpusorts

ARCH = "sm_90"
#: 65,536 registers per SM / 1,024 threads: what a full block may use without spilling.
REGS_AT_1024_THREADS = 64
#: The kernels that hold keys in registers and run 1,024-thread blocks.
REGISTER_KERNELS = [("8c_odd_even_registers.cu", "odd_even_registers", ()),
                    ("8c_odd_even_registers.cu", "odd_even_registers", ("-DKEYS_PER_THREAD=8",)),
                    ("9b_bitonic_registers.cu", "bitonic_block", ()),
                    ("9b_bitonic_registers.cu", "bitonic_block", ("-DKEYS_PER_THREAD=8",)),
                    ("9b_bitonic_registers.cu", "bitonic_merge_tiles", ()),
                    ("8d_merge_split_interleaved.cu", "merge_split_interleaved", ())]
#: cuobjdump's unsigned-division sequence: float reciprocal, then integer fix-ups.
DIVISION = re.compile(r"\bI2F\.U32\.RP\b|\bMUFU\.RCP\b|\bCALL\.REL\b.*div", re.IGNORECASE)
_LINE = re.compile(r"/\*([0-9a-f]+)\*/\s+(.*)")


def _ids(case) -> str:
    file, kernel, options = case
    return f"{kernel}{''.join(options).replace('-DKEYS_PER_THREAD=', ' K=')}"


def kernel_sass(file: str, kernel: str, options=()) -> list[tuple[int, str]]:
    """(address, instruction) of one kernel's SASS, NOP padding left out."""
    listing = cudatools.compact_sass(cudatools.sass_for(file, ARCH, options))
    for block in listing.split("Function : ")[1:]:
        if block.split()[0] == kernel:
            return [(int(m.group(1), 16), m.group(2)) for m in map(_LINE.search,
                                                                    block.splitlines()) if m]
    raise KeyError(f"no kernel {kernel} in {file}")


def loops(instructions: list[tuple[int, str]]) -> list[list[str]]:
    """Every loop body: the instructions from a backward branch's target to the branch."""
    out = []
    for address, instruction in instructions:
        target = re.search(r"\bBRA\b.*?0x([0-9a-f]+)", instruction)
        if target and int(target.group(1), 16) < address:
            start = int(target.group(1), 16)
            out.append([i for a, i in instructions if start <= a <= address])
    return out


def opcodes(instructions) -> collections.Counter:
    return collections.Counter(cudatools.sass_opcode(i).split(".")[0] for i in instructions)


@pytest.mark.parametrize("case", REGISTER_KERNELS, ids=_ids)
def test_register_kernels_do_not_spill(case):
    file, kernel, options = case
    usage = cudatools.resource_usage(file, ARCH, options)[kernel]
    print(f"\n{file} {kernel} {' '.join(options)}: {usage['REG']} registers/thread, "
          f"local {usage['LOCAL']} B, stack {usage['STACK']} B")
    assert usage["LOCAL"] + usage["STACK"] == 0, f"{kernel} uses local memory: {usage}"
    assert usage["REG"] <= REGS_AT_1024_THREADS, usage
    sass = [i for _, i in kernel_sass(file, kernel, options)]
    spills = [i for i in sass if cudatools.sass_opcode(i).split(".")[0] in ("STL", "LDL")]
    assert not spills, f"{kernel} spills keys to local memory: {spills[:4]}"


def test_32_keys_a_thread_hit_the_register_cap_of_a_full_block():
    # __launch_bounds__(1024) caps 8c at 65,536 / 1,024 = 64 registers: 32 keys and the
    # rest do not fit below it, so 16 keys a thread is the size the course uses.
    usage = cudatools.resource_usage("8c_odd_even_registers.cu", ARCH,
                                     ("-DKEYS_PER_THREAD=32",))["odd_even_registers"]
    print(f"\n8c K=32: {usage['REG']} registers/thread, stack {usage['STACK']} B")
    assert usage["REG"] == REGS_AT_1024_THREADS


def test_the_register_check_can_fail():
    # The same check on a kernel whose array is indexed at run time: it must see local memory.
    src = ('extern "C" __global__ void k(int *a, int n)\n{\n    int key[16];\n'
           '    for (int i = 0; i < 16; ++i) key[i] = a[i * n];\n'
           '    for (int i = 0; i < n; ++i) key[(i * 7 + n) & 15] += key[i & 15];\n'
           '    for (int i = 0; i < 16; ++i) a[i * n] = key[i];\n}\n')
    usage = cudatools.resource_usage(src, ARCH)["k"]
    sass = cudatools.sass_instructions(cudatools.sass_for(src, ARCH))
    assert usage["LOCAL"] + usage["STACK"] > 0
    assert any(cudatools.sass_opcode(i).startswith(("STL", "LDL")) for i in sass)


@pytest.mark.parametrize("keys", [16, 8])
def test_register_odd_even_does_k_min_max_per_thread_per_phase(keys):
    # The phase loop (it holds the odd phases' barriers) runs two phases per barrier.
    body = next(b for b in loops(kernel_sass("8c_odd_even_registers.cu", "odd_even_registers",
                                             (f"-DKEYS_PER_THREAD={keys}",)))
                if any(cudatools.sass_opcode(i).startswith("BAR") for i in b))
    count = opcodes(body)
    phases = 2 * opcodes(body)["BAR"]
    print(f"\n8c K={keys}: phase loop ({phases} phases) {len(body)} instructions, "
          f"{count['VIMNMX'] + count['IMNMX']} min/max, {count['BAR']} barrier, "
          f"{count['STS']} STS, {count['LDS']} LDS: {dict(count.most_common())}")
    assert phases >= 2
    assert count["VIMNMX"] + count["IMNMX"] == keys * phases  # K per thread per phase
    assert count["STS"] == count["LDS"] == phases  # the mailbox: 2 posts, 2 reads an odd phase
    assert count["BRA"] <= phases  # no branch per compare-and-exchange


@pytest.mark.parametrize("file, kernels", [
    ("9_bitonic.cu", ("bitonic_sort_tile", "bitonic_merge_tile", "bitonic_merge_global")),
    ("9b_bitonic_registers.cu", ("bitonic_block", "bitonic_merge_tiles", "bitonic_global_step")),
])
def test_bitonic_steps_do_no_integer_division(file, kernels):
    by_kernel = cudatools.sass_by_kernel(cudatools.sass_for(file, ARCH))
    for kernel in kernels:
        division = [i for i in by_kernel[kernel] if DIVISION.search(i)]
        print(f"\n{file} {kernel}: {len([i for i in by_kernel[kernel] if i != 'NOP'])} "
              f"instructions, {len(division)} of a division sequence")
        assert not division, f"{kernel} still divides: {division}"


def test_the_division_check_sees_a_division():
    # Rung 9's old pair index, t / j and t % j with j unknown to the compiler.
    src = ('extern "C" __global__ void k(int *a, unsigned j)\n{\n'
           '    unsigned t = threadIdx.x;\n    a[2 * j * (t / j) + t % j] = 1;\n}\n')
    sass = cudatools.sass_by_kernel(cudatools.sass_for(src, ARCH))["k"]
    assert any(DIVISION.search(i) for i in sass)


def test_bitonic_global_step_is_short():
    sass = [i for _, i in kernel_sass("9b_bitonic_registers.cu", "bitonic_global_step")]
    count = opcodes(sass)
    assert count["VIMNMX"] + count["IMNMX"] == 2 and count["LDG"] == 2 and count["STG"] == 2
    assert len(sass) <= 30, sass


def test_bitonic_block_shuffles_within_warps_without_a_divergence_fallback():
    sass = [i for _, i in kernel_sass("9b_bitonic_registers.cu", "bitonic_block")]
    count = opcodes(sass)
    keys = gpusorts.REGISTER_KEYS
    print(f"\n9b bitonic_block: {len(sass)} instructions, {count['SHFL']} SHFL, "
          f"{count['VIMNMX']} VIMNMX, {count['BAR']} BAR, {count['LDS']} LDS, "
          f"{count['STS']} STS")
    # One shuffle per key in each of three shuffle loops (sort's flip and half-cleaner,
    # merge_only's half-cleaner), each unrolled over the K keys.
    assert count["SHFL"] == 3 * keys
    assert all(".BFLY" in i for i in sass if cudatools.sass_opcode(i).startswith("SHFL"))
    # A shuffle the compiler cannot prove convergent gets WARPSYNC/BRA.DIV fallbacks.
    assert count["WARPSYNC"] == 0 and not any("BRA.DIV" in i for i in sass)
