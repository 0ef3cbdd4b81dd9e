"""Lab 02's self-checks: bubble sort in C, the flags that keep its swap scalar, and why the
vectorized loop was slower (multiple choice, answer hashed: see :mod:`.core`)."""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable
from functools import partial
from types import SimpleNamespace

import numpy as np

from ..cbuild import INT32_ARRAY, asm_for, build_c, c_functions
from ..checks import check_sorted, standard_cases
from ..sandbox import run_in_child
from ..sorts import c_bubble
from .core import Exercise, ExerciseFailed, MultipleChoice, source_text

_SIGNATURE = "void bubble_sort(int *a, int n)"
_INT = {"int", "int32_t", "signed", "signed int"}
_WIDE = {"long", "long int", "long long", "unsigned long", "size_t", "ssize_t", "int64_t",
         "uint64_t", "long long int", "double"}


def _c_type(param: str) -> tuple[str, bool]:
    """``"const int32_t *restrict a"`` -> ``("int32_t", True)``: base type, pointer?"""
    words = [w for w in param.replace("*", " * ").replace("[", " [ ").split()
             if w not in ("const", "restrict", "__restrict", "volatile", "register")]
    pointer = "*" in words or "[" in words
    words = [w for w in words if w not in ("*", "[", "]") and not w.endswith("]")]
    return " ".join(words[:-1] if len(words) > 1 else words), pointer


def require_bubble_sort(source: str) -> None:
    """Before anything runs: ``bubble_sort`` is defined, not static, and takes what the
    check passes (an int32 array and an int32 count); else say what was found."""
    if not isinstance(source, str):
        raise ExerciseFailed(f"bubble_sort_source() must return the C source as a str; got "
                             f"{type(source).__name__}")
    found = c_functions(source)
    if "bubble_sort" not in found:
        static = re.search(r"\bstatic\b[^;{]*\bbubble_sort\s*\(", source)
        raise ExerciseFailed(
            "your C defines no function bubble_sort that a library exports"
            + (" (yours is `static`: remove that word, so that Python can call it)" if static
               else f"; the functions it defines: {', '.join(found) or 'none'}")
            + f". The check calls `{_SIGNATURE}`")
    params = found["bubble_sort"]
    types = [_c_type(p) for p in params]
    if len(types) != 2 or not (types[0][1] and types[0][0] in _INT) \
            or types[1][1] or types[1][0] not in _INT:
        raise ExerciseFailed(
            f"bubble_sort must be `{_SIGNATURE}` (int32_t works too): the check passes an "
            f"int32 array and an int32 count; yours takes ({', '.join(params)})"
            + next(((f", and {t} is 64 bits here: `{t} *` would read two keys as one" if ptr
                     else f", and {t} is 64 bits here: the 32-bit count would arrive with an "
                          f"undefined upper half")
                    for t, ptr in types if t in _WIDE), ""))


_ZONE = 16  # keys of red zone on each side of the array the check sorts
_ZONE_BEFORE = np.full(_ZONE, np.iinfo(np.int32).max, dtype=np.int32)
_ZONE_AFTER = np.full(_ZONE, np.iinfo(np.int32).min, dtype=np.int32)


def _check_red_zones(out: np.ndarray, n: int, what: str) -> None:
    """Refuse a sort that changed memory just outside its array (``out`` holds the keys
    between two red zones of :data:`_ZONE` keys)."""
    before = np.flatnonzero(out[:_ZONE] != _ZONE_BEFORE)
    after = np.flatnonzero(out[_ZONE + n:] != _ZONE_AFTER)
    if before.size or after.size:
        index = f"a[{int(after[0]) + n}]" if after.size else f"a[{int(before[-1]) - _ZONE}]"
        side = "past the end" if after.size else "before the start"
        span = f"its indices are 0 to {n - 1}" if n else "it is empty"
        raise ExerciseFailed(
            f"{what} wrote {index}, {side} of the array ({span}), most likely "
            f"a loop that reads and swaps one element too far. With n keys the last valid index "
            f"is n - 1, so a[j + 1] needs j < n - 1.")


def _check_c_source(source_fn: Callable[[], str], descending: bool = False) -> str:
    source = source_text(source_fn, "the C source")
    require_bubble_sort(source)
    for flags in (("-O1",), ("-O2",)):
        lib = build_c(source, flags, name="lab02_bubble_sort.c")
        fn = lib.function("bubble_sort", [INT32_ARRAY, ctypes.c_int32])
        for name, keys in standard_cases(50).items():
            # The keys between two red zones: one a read of a[-1] (INT32_MAX) or of a[n]
            # (INT32_MIN) would swap into the array, so an index one past either end writes.
            out = np.concatenate([_ZONE_BEFORE, keys, _ZONE_AFTER])
            # In a child process: a wrong pointer kills the child, not the notebook.
            run_in_child(lambda views, n=keys.size, fn=fn: fn(views[0][_ZONE:], np.int32(n)),
                         [out], 10.0,
                         f"your C bubble_sort at {' '.join(flags)} on input {name!r} "
                         f"(n={keys.size})", error=ExerciseFailed,
                         hang_hint="Sorting 50 keys takes microseconds: is a loop never "
                                   "ending (a condition that never becomes false)?",
                         crash_hint="Most likely a read or write outside the array: with "
                                    "n keys the last valid index is n - 1, so a[j + 1] needs "
                                    "j < n - 1.")
            _check_red_zones(out, keys.size, f"your C bubble_sort at {' '.join(flags)} on "
                                             f"input {name!r} (n={keys.size})")
            check_sorted(name, keys, out[_ZONE:_ZONE + keys.size],
                         what=f"your C bubble_sort at {' '.join(flags)}", descending=descending)
    order = " descending" if descending else ""
    return (f"compiles and sorts every input{order} at -O1 and -O2 (n up to 51, in a child "
            f"process)")


_VECTOR_HINTS = ("%xmm", "%ymm", "%zmm")


def _check_scalar_flags(flags_fn: Callable[[], list]) -> str:
    answer = flags_fn()
    if isinstance(answer, str):
        raise ExerciseFailed(f"return a list of flags, one string each, e.g. "
                             f"{answer.split() or ['-fno-...']!r}; got the string {answer!r}")
    if not isinstance(answer, list | tuple) or not all(isinstance(f, str) for f in answer):
        raise ExerciseFailed(f"return a list of flags (strings), e.g. ['-fno-...']; got "
                             f"{answer!r}")
    flags = list(answer)
    unknown = [f for f in flags if not f.startswith("-")]
    if unknown:
        raise ExerciseFailed(f"{unknown[0]!r} is not a gcc flag: every flag starts with '-'")
    bad = [f for f in flags if f.startswith("-O")]
    if bad:
        raise ExerciseFailed(f"keep -O2 and switch off just the one optimization that hurts; "
                             f"{' '.join(bad)} changes the whole optimization level")
    all_flags = ("-O2", *flags)
    asm = asm_for("bubble_sort.c", all_flags, function="bubble_sort")
    vector = [ln.strip() for ln in asm.splitlines() if any(h in ln for h in _VECTOR_HINTS)]
    if vector:
        raise ExerciseFailed(f"with {' '.join(all_flags)} the loop still uses vector registers, "
                             f"e.g. `{vector[0]}`: the swap is still vectorized")
    for name, keys in standard_cases(50).items():
        check_sorted(name, keys, c_bubble(keys, all_flags), what=f"bubble_sort.c at "
                     f"{' '.join(all_flags)}")
    return (f"{' '.join(all_flags)}: no vector register (%xmm, %ymm, %zmm) in bubble_sort's "
            f"x86 assembly, and bubble_sort.c built with them sorts every input (n up to 51)")


WHY_SLOWER = {
    "a": "SSE instructions are slower than ordinary integer instructions on this CPU.",
    "b": "Each iteration's 8-byte load overlaps half of the previous iteration's 8-byte "
         "store, so the CPU cannot forward the stored bytes to the load and must wait "
         "for the store to reach the cache (a store-forwarding stall).",
    "c": "The shuffles (pshufd) make the loop twice as long, so it takes twice the time.",
    "d": "Vectorized code mispredicts more branches.",
}

#: The answer, as a salted hash, and what the check says for each letter, sealed with it.
_WHY_SLOWER_SALT = "Lab 02: why_slower 7c1e"
_WHY_SLOWER_RESPONSES = {
    "2a6554568d67930ff5869f7b": (
        "g8h6tA+tL4T+J8BiI0cDoh196Oap+KFIaQdKItLVe2pp5o87XYXV7A5977t6YZyQmn+OF88BTUFqrOTSnNs7"
        "SPKa2jEwdv4jF0LOIc4VKnBGG950t+Girrt4Ub3R/D0nMID7RQ=="
    ),
    "009a6ab3b7d452624050ec72": (
        "wuX24wGsxr/SodkU4Y6FbfwYhyMsHDrRqUKrRxaaJkqiEVaKlUOzBkMEMtEkoHneuQDqr7zaFwnFgqwBZ3P2"
        "rhiSeSNpwztpdB/WhkmtZ5hbPiuoVd4qZ66dByURyhyEAlKNVg=="
    ),
    "1826380ff5823767357b232e": (
        "qPbSKaqqBxarlioo31xSZ7uQAsYRripZ/mH52CQ42RMLllnV3CE/EtSEyd/hpqsK3FEy1tHrkJbz/5aQ1oO9"
        "yhSqJmsZGvLMisNjTaeVJBxkW8Y06CYB/GSLLm8N7jYdrXDfzg=="
    ),
    "164598f904c12fea9bd352f6": (
        "ts+zpF+HGHCJScNV9QKxZuP4JwF+KHaHQZ1gj/PBbZJu9IU+y47RwQL6mbipSItqvupOHmgXSZUuCdb57N4s"
        "xoroOvSqLjMZ+7xupfW+VI0hxOmSrpg45IKUBi3JMEYkZrNzHg=="
    ),
}


lab02 = SimpleNamespace(
    c_source=Exercise("Lab 02", "bubble sort in C",
                      "bubble_sort_source() returns C source defining "
                      "void bubble_sort(int32_t *a, int32_t n)", _check_c_source),
    # The graded variant (docs/instructors.md): kernels/c/bubble_sort.c answers c_source.
    c_source_descending=Exercise(
        "Lab 02", "bubble sort in C, descending",
        "bubble_sort_source() returns C source defining void bubble_sort(int32_t *a, int32_t n) "
        "that sorts largest first", partial(_check_c_source, descending=True)),
    scalar_flags=Exercise("Lab 02", "flags that keep the swap scalar",
                          "scalar_flags() returns the gcc flags that, added to -O2, stop the "
                          "swap from being vectorized", _check_scalar_flags),
    why_slower=Exercise("Lab 02", "why the vectorized loop is slower",
                        "why_slower() returns the letter of the right explanation",
                        MultipleChoice(WHY_SLOWER, _WHY_SLOWER_SALT, _WHY_SLOWER_RESPONSES)),
)
