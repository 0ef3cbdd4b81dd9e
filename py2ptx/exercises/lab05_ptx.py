"""What is wrong with a student's ``stream_hinted`` (lab 05, exercise 1), read from its
compiled code on the CPU: the SASS of its loads, and in its PTX where each loaded vector goes."""

from __future__ import annotations

import re

#: DeepEP's read, as the SASS of sm_90 writes it; each part and the PTX qualifier it comes
#: from (checked by compiling each qualifier alone: ``.nc`` -> CONSTANT, and so on).
DEEPEP_LDG = "LDG.E.NA.LTC256B.128.CONSTANT"
_LDG_PARTS = {
    "CONSTANT": (".nc", "the read-only, non-coherent path"),
    "NA": (".L1::no_allocate", "no L1 line for the data"),
    "LTC256B": (".L2::256B", "L2 fetches 256 bytes at once"),
    "128": (".v4.s32", "one 16-byte load per int4"),
}
_DEEPEP_LD = "ld.global.nc.L1::no_allocate.L2::256B.v4.s32"

def ldg_problem(ops: list[str], source: str) -> str | None:
    """What is wrong with stream_hinted's global loads in SASS (None: DeepEP's exactly)."""
    wrong = [op for op in ops if op != DEEPEP_LDG]
    if not wrong:
        return None
    op = wrong[0]
    parts = op.split(".")
    say = f"stream_hinted loads with `{op}` in SASS; DeepEP's read is `{DEEPEP_LDG}`."
    other = [p for p in parts[2:] if p not in _LDG_PARTS]
    for p in other:
        if p.startswith("LTC"):
            say += (f" {p} comes from .L2::{p[3:]}: DeepEP asks L2 for 256 bytes at a time "
                    f"(.L2::256B).")
    missing = [f"{p}, which {q} gives ({why})" for p, (q, why) in _LDG_PARTS.items()
               if p not in parts]
    if missing:
        say += " Missing: " + "; ".join(missing) + "."
    elif other:
        say += f" It has {', '.join(other)} besides: use exactly {_DEEPEP_LD}."
    if len(ops) > 1:
        say += f" (The kernel has {len(ops)} kinds of load: {', '.join(ops)}.)"
    if _DEEPEP_LD in source or "L1::no_allocate.L2::256B" in source:
        say += (" Your source does contain DeepEP's ld: does stream_hinted call the helper "
                "that has it, for every load?")
    return say


def copy_problem(ptx: str) -> str | None:
    """Does each vector the inline ``ld`` returns reach a ``st.global`` whole, in order?

    Read in stream_hinted's PTX, where NVRTC names every value once: the four registers
    an inline load writes are the four a correct copy stores, in the same order. This
    catches words swapped or duplicated on the CPU; where they are stored (the address)
    only the GPU run checks.
    """
    vector = re.compile(r"\{([^}]*)\}")
    loads, stores, scalar_stored, inline = [], [], set(), False
    for line in ptx.splitlines():
        text = line.strip()
        if "begin inline asm" in text:
            inline = True
        elif "end inline asm" in text:
            inline = False
        elif inline and text.startswith("ld.global") and ".v4." in text:
            loads.append(tuple(r.strip() for r in vector.search(text).group(1).split(",")))
        elif text.startswith("st.global"):
            found = vector.search(text)
            if found:
                stores.append(tuple(r.strip() for r in found.group(1).split(",")))
            else:
                scalar_stored.add(text.rstrip(";").split(",")[-1].strip())
    stored = {r for s in stores for r in s} | scalar_stored
    for loaded in loads:
        if loaded in stores:
            continue
        twisted = next((s for s in stores if set(s) & set(loaded)), None)
        if twisted is not None:
            return (f"in stream_hinted's PTX your load returns the words {{{', '.join(loaded)}}} "
                    f"(x, y, z, w) and the store writes {{{', '.join(twisted)}}}: the copy "
                    f"swaps, drops or repeats words. Check the order of the \"=r\"(v.x), "
                    f"\"=r\"(v.y), ... outputs of your asm against {{%0, %1, %2, %3}}, and "
                    f"that the store writes v unchanged.")
        if not set(loaded) <= stored:
            return (f"in stream_hinted's PTX the words your load returns ({', '.join(loaded)}) "
                    f"never reach a st.global unchanged: the store must write exactly the "
                    f"int4 the load returned.")
    return None
