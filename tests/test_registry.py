"""The registry (py2ptx.ladder.VERSIONS) owns every version: the tables derive from it,
and a version that lacks what its kind of rung needs fails here, not on a GPU."""

from __future__ import annotations

import json
import re

import pytest

from py2ptx import bench, doctor, gpusorts, ladder
from py2ptx.kernels import KERNELS
from py2ptx.ladder import VERSIONS, WithoutGPU

REPO = KERNELS.parents[1]
GPU = [v for v in VERSIONS if v.device == "gpu"]
NUMBERED = re.compile(r"^(\d+[a-z]?)_\w+\.(?:cu|ptx|py|c)$")


def test_keys_and_labels_are_unique_and_rungs_are_numbered_1_to_n():
    assert len({v.key for v in VERSIONS}) == len(VERSIONS)
    assert len({v.label for v in VERSIONS}) == len(VERSIONS)
    assert [r.number for r in ladder.RUNGS] == list(range(1, len(ladder.RUNGS) + 1))
    for v in VERSIONS:
        if not v.on_ladder:  # a variant is measured beside the rung whose number it carries
            assert ladder.rung(v.number).device == v.device, v.key
            assert re.fullmatch(r"[b-z]", v.variant), v.key


@pytest.mark.parametrize("v", VERSIONS, ids=lambda v: v.label)
def test_every_version_has_what_its_kind_needs(v):
    assert v.kind in ladder.KINDS and v.plan.sizes and v.plan.repeats >= 1
    assert all(need in ladder.NEEDS for need in v.needs)
    assert callable(v.implementation)
    if v.kernel is not None:
        assert (KERNELS / v.kernel).is_file(), v.kernel
    if v.device == "cpu":
        assert v.without_gpu is WithoutGPU.CPU and v.device_sort is None
        return
    assert v.without_gpu is not WithoutGPU.CPU, f"{v.key} is a GPU version"
    assert callable(v.device_sort), f"{v.key} has no in-place device sort to time"
    if v.without_gpu is WithoutGPU.CPU_THREADS:
        assert v.kernel.endswith(".cu") and v.schedule is not None, \
            f"{v.key} runs on CPU threads without a GPU: it needs a .cu kernel and a schedule"
        size, launches = v.schedule(100, None)
        assert size >= 100 and launches
        assert all(isinstance(launch, gpusorts.Launch) for launch in launches)
    if v.without_gpu is WithoutGPU.SIMULATOR:
        assert v.kernel.endswith(".py"), "only numba.cuda kernels run in the simulator"
    if v.key != "odd_even_numba":  # its sort runs in the simulator too; the others wrap
        assert v.implementation.__wrapped__ is v.device_sort, \
            f"{v.key}'s sort(keys) is not its device sort with copies around it"


def test_a_numbered_kernel_file_is_named_after_its_version():
    labels = {v.label for v in VERSIONS}
    for v in VERSIONS:
        name = (v.kernel or "").rsplit("/", 1)[-1]
        match = NUMBERED.match(name)
        if match and v.device == "gpu":
            assert match.group(1) == v.label or ladder.version(match.group(1)).kernel == v.kernel, \
                f"{v.key} is {v.label} but its file is {name}"
    for path in (KERNELS / "cuda").iterdir():
        match = NUMBERED.match(path.name)
        if match:
            assert match.group(1) in labels, f"{path.name} carries a number no version has"


def test_the_tables_derive_from_the_registry():
    assert ladder.RUNGS == tuple(v for v in VERSIONS if not v.variant)
    assert ladder.DEVICE_SORTS == {v.key: v.device_sort for v in GPU}
    assert set(ladder.SCHEDULES) == {v.key for v in VERSIONS
                                     if v.without_gpu is WithoutGPU.CPU_THREADS}
    assert bench.GPU_PLAN == {v.key: (v.plan.sizes, v.plan.repeats) for v in VERSIONS}
    assert set(doctor.probe().modes) == {r.key for r in ladder.RUNGS}


def test_the_doctor_mode_follows_without_gpu_on_a_machine_without_one(monkeypatch):
    monkeypatch.setattr(doctor, "has_gpu", lambda: False)
    report = doctor.Report()
    report.add("Machine", "C compiler", "gcc", True)
    doctor._rung_modes(report)
    expected = {WithoutGPU.CPU: "live", WithoutGPU.SIMULATOR: "simulator",
                WithoutGPU.CPU_THREADS: "cpu-threads", WithoutGPU.COMPILE_ONLY: "compile-only",
                WithoutGPU.RECORDED: "recorded"}
    for r in ladder.RUNGS:
        assert report.modes[r.key][0] == expected[r.without_gpu], r.key
        if r.without_gpu is WithoutGPU.CPU_THREADS:
            assert "CPU threads" in report.modes[r.key][1]


def test_the_course_map_lists_each_rung_under_its_notebook():
    import course_map  # tools/

    table = course_map.course_map()
    for r in ladder.RUNGS:
        row = next(line for line in table.splitlines() if f"notebooks/{r.notebook}.ipynb" in line)
        assert f"{r.number}. {r.title}" in row


def test_every_kernel_file_a_notebook_names_exists():
    names = set()
    for nb in (REPO / "notebooks").glob("*.ipynb"):
        text = "".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"])
        names |= set(re.findall(r"\b(\d+[a-z]?_\w+\.(?:cu|ptx|py))\b", text))
    assert names, "the notebooks name kernel files"
    for name in names:
        assert (KERNELS / "cuda" / name).is_file(), name


def test_version_lookup_by_key_and_label():
    assert ladder.version("8b").key == "merge_split"
    assert ladder.version("merge_split").label == "8b"
    assert ladder.version(7).key == "odd_even_global" and ladder.version("11b").number == 11
    with pytest.raises(KeyError, match="8b merge_split"):
        ladder.version("12")
    with pytest.raises(KeyError):
        ladder.rung("merge_split")  # a variant is not a rung of the ladder


def test_the_kernels_near_the_limit_are_variants_of_their_kind():
    # Issue 12: 7c and 8c keep rungs 7 and 8's algorithm (n phases of neighbour
    # compare-and-exchange: 7c across SMs, 8c in registers);
    # 8d is merge-split like 8b; 9b is bitonic like 9 -- both algorithm changes.
    kinds = {"7c": "same-algorithm", "8c": "same-algorithm", "8d": "algorithm-change",
             "9b": "algorithm-change"}
    for label, kind in kinds.items():
        v = ladder.version(label)
        assert v.kind == kind and v.device == "gpu" and not v.on_ladder, label
        assert v.kernel == f"cuda/{v.kernel.rsplit('/', 1)[-1]}" and v.kernel.startswith(
            f"cuda/{label}_"), v.kernel
        assert v.schedule is not None and v.without_gpu is WithoutGPU.CPU_THREADS
        assert max(v.plan.sizes) <= 2**16 and v.plan.repeats <= 20, "the GPU check is small"
    assert ladder.version("8b").kind == ladder.version("8d").kind
    # 8c holds 16 keys in each of at most 1,024 threads: its plan stops at 2^14.
    assert max(ladder.version("8c").plan.sizes) == 2**14
    assert ladder.version("odd_even_registers").label == "8c"
    assert ladder.version("bitonic_registers").label == "9b"
    assert ladder.version("merge_split_interleaved").label == "8d"
