"""The C builder: C source -> cached shared library -> ctypes function; and its assembly."""

from __future__ import annotations

import ctypes
import os
import re
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest

from py2ptx import cbuild, sorts
from py2ptx.cbuild import INT32_ARRAY, CCompileError, UnsafeCacheDir

ADD_ONE = """\
#include <stdint.h>
int32_t add_one(int32_t x) { return x + 1; }
"""

TWO_FUNCTIONS = """\
int twice(int x) { return 2 * x; }
int thrice(int x) { return 3 * x; }
"""


def _sort_with(lib: cbuild.CLibrary, keys: np.ndarray) -> np.ndarray:
    fn = lib.function("bubble_sort", [INT32_ARRAY, ctypes.c_int32])
    out = keys.copy()
    fn(out, np.int32(out.size))
    return out


def _library_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.so"))


def test_build_from_a_kernels_file_name_sorts(cache_dir):
    lib = cbuild.build_c("bubble_sort.c")
    assert lib.name == "bubble_sort.c"
    assert lib.flags == ("-O2",)
    assert lib.path.parent == cache_dir
    assert lib.path.exists()
    assert "void bubble_sort" in lib.source
    keys = np.array([5, -3, 2147483647, 0, -2147483648, 5], dtype=np.int32)
    np.testing.assert_array_equal(_sort_with(lib, keys), np.sort(keys))
    assert "bubble_sort.c" in repr(lib) and "-O2" in repr(lib)


def test_build_from_a_path(cache_dir):
    lib = cbuild.build_c(cbuild.KERNELS_C / "bubble_sort.c", ("-O1",))
    assert lib.name == "bubble_sort.c"
    keys = np.arange(9, 0, -1, dtype=np.int32)
    np.testing.assert_array_equal(_sort_with(lib, keys), np.arange(1, 10, dtype=np.int32))


def test_build_from_a_string():
    lib = cbuild.build_c(ADD_ONE)
    assert lib.name == "cell.c"
    add_one = lib.function("add_one", [ctypes.c_int32], ctypes.c_int32)
    assert add_one(41) == 42
    assert add_one(-1) == 0


def test_build_from_a_string_with_a_name(cache_dir):
    lib = cbuild.build_c(ADD_ONE, name="mine.c")
    assert lib.name == "mine.c"
    assert lib.path.name.startswith("mine-")


def test_missing_source_file_is_reported():
    with pytest.raises(FileNotFoundError, match="no_such_file.c"):
        cbuild.build_c("no_such_file.c")


def test_second_build_does_not_recompile(cache_dir):
    first = cbuild.build_c(ADD_ONE)
    mtime = first.path.stat().st_mtime_ns
    files = _library_files(cache_dir)
    second = cbuild.build_c(ADD_ONE)
    assert second.path == first.path
    assert second.path.stat().st_mtime_ns == mtime
    assert _library_files(cache_dir) == files == [first.path]


def test_second_build_uses_the_cache_without_the_compiler(monkeypatch):
    first = cbuild.build_c(ADD_ONE)

    def no_compiler(*args, **kwargs):
        raise AssertionError("the compiler ran again for a cached library")

    monkeypatch.setattr(cbuild, "_run_compiler", no_compiler)
    assert cbuild.build_c(ADD_ONE).path == first.path


def test_different_flags_give_different_libraries(cache_dir):
    o1 = cbuild.build_c("bubble_sort.c", ("-O1",))
    o2 = cbuild.build_c("bubble_sort.c", ("-O2",))
    scalar = cbuild.build_c("bubble_sort.c", ("-O2", "-fno-tree-slp-vectorize"))
    assert len({o1.path, o2.path, scalar.path}) == 3
    assert len(_library_files(cache_dir)) == 3


def test_different_source_gives_a_different_library():
    a = cbuild.build_c(ADD_ONE)
    b = cbuild.build_c(ADD_ONE.replace("x + 1", "x + 2"))
    assert a.path != b.path
    assert b.function("add_one", [ctypes.c_int32], ctypes.c_int32)(1) == 3


def test_cache_dir_is_created_private(tmp_path, monkeypatch):
    target = tmp_path / "fresh" / "cache"
    monkeypatch.setenv("PY2PTX_CACHE", str(target))
    lib = cbuild.build_c(ADD_ONE)
    assert lib.path.parent == target
    assert stat.S_IMODE(target.stat().st_mode) == 0o700


def test_fixture_cache_dir_is_private(cache_dir):
    assert cbuild.cache_dir() == cache_dir
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700


def test_cache_dir_defaults_under_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.delenv("PY2PTX_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = cbuild.cache_dir()
    assert path == tmp_path / "xdg" / "py2ptx"
    assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_world_writable_cache_dir_is_refused(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("PY2PTX_CACHE", str(shared))
    with pytest.raises(UnsafeCacheDir) as info:
        cbuild.build_c(ADD_ONE)
    message = str(info.value)
    assert f"chmod 700 {shared}" in message
    assert "other users" in message
    assert not list(shared.iterdir()), "nothing may be written into an unsafe cache"


def test_group_writable_cache_dir_is_refused(tmp_path, monkeypatch):
    shared = tmp_path / "group"
    shared.mkdir()
    shared.chmod(0o770)
    monkeypatch.setenv("PY2PTX_CACHE", str(shared))
    with pytest.raises(UnsafeCacheDir, match="chmod 700"):
        cbuild.cache_dir()


def test_syntax_error_names_the_file_and_line():
    source = "#include <stdint.h>\nint32_t f(int32_t x) { return x +; }\n"
    with pytest.raises(CCompileError) as info:
        cbuild.build_c(source, name="mine.c")
    message = str(info.value)
    assert "mine.c:2" in message
    assert "line 2" in message
    assert "-O2" in message
    assert "/tmp" not in message and "py2ptx-" not in message  # no temporary paths
    assert "mine.c:2" in info.value.log


def test_missing_semicolon_names_the_end_of_the_line_before():
    source = "void f(int *a, int n)\n{\n    int t = 0\n    for (int i = 0; i < n; i++)\n" \
             "        a[i] = t;\n}\n"
    with pytest.raises(CCompileError) as info:
        cbuild.build_c(source, name="mine.c")
    message = str(info.value)
    assert ("(line 4: expected ',' or ';' before 'for' -- the ';' is probably missing at the "
            "end of line 3: `int t = 0`)") in message
    assert "mine.c:4: error: expected ',' or ';' before 'for'\n" \
           "     4 |     for (int i = 0; i < n; i++)\n" in message
    assert info.value.errors[0].line == 4 and info.value.errors[0].quote.strip().startswith("for")


def test_errors_after_a_line_directive_quote_the_students_lines_not_the_prelude():
    prelude = "".join(f"int prelude_{i};\n" for i in range(10))
    student = "void k(int *a)\n{\n    a[0] = ;\n}\n"
    with pytest.raises(CCompileError) as info:
        cbuild.build_c(prelude + '#line 1 "cell.cu"\n' + student, ("-x", "c"), name="cell.cu")
    message = str(info.value)
    assert "cell.cu:3: error: expected expression before ';' token\n" \
           "     3 |     a[0] = ;" in message
    assert "prelude_" not in message  # gcc would quote line 3 of the whole file, a prelude line


def test_an_undefined_function_lists_the_ones_defined():
    lib = cbuild.build_c(TWO_FUNCTIONS, name="two.c")
    with pytest.raises(AttributeError, match=r"two\.c has no function 'once' \(the functions it "
                                             r"defines: twice, thrice\)"):
        lib.function("once", [ctypes.c_int])


def test_c_functions_reads_exported_definitions_and_their_parameters():
    source = ("#include <stdint.h>\nstatic void swap(int *a, int *b) { }\n"
              "/* note */ void bubble_sort(long *a, long n)\n{\n    if (n) swap(0, 0);\n}\n"
              "int main(void) { return 0; }\n")
    assert cbuild.c_functions(source) == {"bubble_sort": ["long *a", "long n"], "main": []}


def test_syntax_error_in_unnamed_source_names_cell_c():
    with pytest.raises(CCompileError, match=r"cell\.c:3"):
        cbuild.build_c("int f(void)\n{\n  return 1\n}\n")


def test_failed_build_leaves_no_library_behind(cache_dir):
    with pytest.raises(CCompileError):
        cbuild.build_c("int broken( {\n", name="broken.c")
    assert _library_files(cache_dir) == []
    assert list(cache_dir.iterdir()) == []


def test_unknown_symbol_gives_a_clear_attribute_error():
    lib = cbuild.build_c(ADD_ONE, name="mine.c")
    with pytest.raises(AttributeError) as info:
        lib.function("add_two", [ctypes.c_int32], ctypes.c_int32)
    message = str(info.value)
    assert "mine.c" in message and "'add_two'" in message and "static" in message


def test_static_function_is_not_exported():
    lib = cbuild.build_c("static int hidden(int x) { return x; }\nint shown(int x) "
                         "{ return hidden(x); }\n")
    assert lib.function("shown", [ctypes.c_int], ctypes.c_int)(7) == 7
    with pytest.raises(AttributeError, match="'hidden'"):
        lib.function("hidden", [ctypes.c_int], ctypes.c_int)


@pytest.mark.parametrize(("bad", "fix"), [
    (np.zeros(4), "got a NumPy array of float64; C reads the memory as 32-bit ints, so "
                  "float64 keys would be misread, not converted: pass keys.astype(np.int32)"),
    (np.zeros(4, dtype=np.int64), "got a NumPy array of int64"),
    (np.zeros(8, dtype=np.int32)[::2], "not contiguous (a slice with a step?) and C walks one "
                                       "block of memory: pass np.ascontiguousarray(keys)"),
    ([3, 2, 1, 0], "got a list; pass np.asarray(keys, dtype=np.int32)"),
], ids=["float64", "int64", "strided int32", "list"])
def test_int32_array_argument_refuses_other_arrays(bad, fix):
    lib = cbuild.build_c("bubble_sort.c")
    fn = lib.function("bubble_sort", [INT32_ARRAY, ctypes.c_int32])
    before = np.array(bad, copy=True)
    with pytest.raises(ctypes.ArgumentError) as info:  # a CArgumentError, still ctypes' kind
        fn(bad, np.int32(4))
    assert str(info.value).startswith("bubble_sort: parameter 1 (`int32_t *a`) ")
    assert fix in str(info.value)
    np.testing.assert_array_equal(bad, before)


def test_int32_array_argument_refuses_read_only_arrays():
    fn = cbuild.build_c("bubble_sort.c").function("bubble_sort", [INT32_ARRAY, ctypes.c_int32])
    keys = np.array([2, 1], dtype=np.int32)
    keys.flags.writeable = False
    with pytest.raises(ctypes.ArgumentError, match=r"read-only and C sorts in place: pass a "
                                                   r"copy, keys\.copy\(\)"):
        fn(keys, np.int32(2))


def test_compiler_is_found_and_has_a_version():
    assert Path(cbuild.compiler()).exists()
    assert cbuild.compiler_version() and cbuild.compiler_version() != "unknown"


# --------------------------------------------------------------------------- asm_for


def test_asm_for_a_function_returns_only_that_function():
    asm = cbuild.asm_for(TWO_FUNCTIONS, function="thrice")
    lines = asm.splitlines()
    assert lines[0] == "thrice:"
    assert "twice:" not in asm
    assert "ret" in asm
    whole = cbuild.asm_for(TWO_FUNCTIONS)
    assert "twice:" in whole and "thrice:" in whole
    twice = cbuild.asm_for(TWO_FUNCTIONS, function="twice")
    assert twice.splitlines()[0] == "twice:" and "thrice:" not in twice


def test_asm_for_drops_assembler_bookkeeping():
    asm = cbuild.asm_for("compare_swap.c", function="compare_swap")
    assert asm.startswith("compare_swap:")
    assert not re.search(r"^\s*\.(cfi_|file|ident|section|size|type|globl)\b", asm, re.M)


def test_asm_for_unknown_function_raises():
    with pytest.raises(ValueError, match="'nope'.*cell.c"):
        cbuild.asm_for(TWO_FUNCTIONS, function="nope")


def test_asm_for_is_cached(cache_dir):
    cbuild.asm_for(TWO_FUNCTIONS)
    files = sorted(cache_dir.glob("*.s"))
    assert len(files) == 1
    mtime = files[0].stat().st_mtime_ns
    cbuild.asm_for(TWO_FUNCTIONS, function="twice")
    assert sorted(cache_dir.glob("*.s")) == files
    assert files[0].stat().st_mtime_ns == mtime


def test_asm_for_syntax_error_raises_ccompileerror():
    with pytest.raises(CCompileError, match=r"mine\.c:1"):
        cbuild.asm_for("int f( {\n", name="mine.c")


def _is_gcc_12() -> bool:
    try:
        out = subprocess.run([cbuild.compiler(), "-v"], capture_output=True, text=True,
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired, CCompileError):
        return False
    return re.search(r"^gcc version 12\.", out.stderr, re.M) is not None


GCC12 = _is_gcc_12()


def _require_gcc_12():
    if not GCC12:
        pytest.skip(f"the xmm facts were measured with gcc 12; this compiler is "
                    f"{cbuild.compiler_version()!r}")


def test_bubble_sort_at_O2_is_vectorized_with_gcc_12():
    _require_gcc_12()
    asm = cbuild.asm_for("bubble_sort.c", sorts.C_FLAGS_VECTORIZED, function="bubble_sort")
    assert sorts.C_FLAGS_VECTORIZED == ("-O2",)
    assert "xmm" in asm


def test_bubble_sort_without_slp_vectorizer_is_scalar_with_gcc_12():
    _require_gcc_12()
    asm = cbuild.asm_for("bubble_sort.c", sorts.C_FLAGS_SCALAR, function="bubble_sort")
    assert sorts.C_FLAGS_SCALAR == ("-O2", "-fno-tree-slp-vectorize")
    assert "xmm" not in asm
    assert "cmpl" in asm  # still the compare


def test_cache_files_are_not_world_writable(cache_dir):
    lib = cbuild.build_c(ADD_ONE)
    mode = stat.S_IMODE(os.stat(lib.path).st_mode)
    assert not mode & (stat.S_IWGRP | stat.S_IWOTH)


@pytest.mark.parametrize("build", [lambda: cbuild.build_c(ADD_ONE, "-O2 -fno-tree-vectorize"),
                                   lambda: sorts.c_bubble(np.arange(3, dtype=np.int32),
                                                          "-O2 -fno-tree-vectorize"),
                                   lambda: cbuild.asm_for(ADD_ONE, "-O2 -fno-tree-vectorize")],
                         ids=["build_c", "sorts.c_bubble", "asm_for"])
def test_flags_as_one_string_get_the_list_to_write(build):
    with pytest.raises(cbuild.FlagsError, match=r"flags must be a list of strings, one flag "
                                                r"each: \['-O2', '-fno-tree-vectorize'\], not "
                                                r"the string '-O2 -fno-tree-vectorize'"):
        build()
