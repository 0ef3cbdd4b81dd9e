"""py2ptx.readings: notebook 03's conclusions computed from the timings shown.

Checked on made-up timings (each branch of each sentence) and against the recorded H200
run the notebook shows without a GPU (the figures issue 12 quotes from it).
"""

from __future__ import annotations

import pytest

from py2ptx import readings, results
from py2ptx.timing import Timing

RECORDED = results.REPO / "results" / "20261128T194029Z-nvidia-h200-gpu-ladder.json"


def gpu(label, n, seconds, device=None, host=None, **meta):
    return Timing((seconds,), label, "gpu", n, meta, None if device is None else (device,), host)


def cpu(label, n, seconds):
    return Timing((seconds,), label, "cpu", n)


def test_bank_degree_is_the_gcd_of_the_stride_and_32():
    assert [readings.bank_degree(s) for s in (1, 2, 16, 32, 33, 0)] == [1, 2, 16, 32, 1, 32]


def test_the_wavefront_law_uses_the_device_time_where_there_is_one():
    n = 2**14
    predicted = n * n / 8 / readings.H200_CLOCK_HZ
    line = readings.wavefront_law([gpu("odd_even_shared", n, 2 * predicted, device=predicted)])
    assert "measured / predicted = 1.000" in line[0] and "device only" in line[0]
    line = readings.wavefront_law([gpu("odd_even_shared", n, predicted * 1.5)],
                                  {"clock_hz": readings.H200_CLOCK_HZ})
    assert "= 1.500" in line[0] and "end to end" in line[0] and "recorded" in line[-1]
    (line, _) = readings.wavefront_law([gpu("odd_even_shared", n, predicted, host=0.5)])
    assert "(Python is 50% of this event time)" in line
    (line, _) = readings.wavefront_law([gpu("odd_even_shared", n, predicted, host=0.1)])
    assert "Python" not in line


def test_crossovers_name_both_cpu_references():
    ts = [cpu("c_bubble_scalar", 10, 1.0), cpu("c_bubble_scalar", 20, 4.0),
          cpu("numpy_sort", 10, 1e-6), gpu("bitonic", 10, 2.0), gpu("bitonic", 20, 3.0)]
    line, *absent = readings.crossovers(ts, recorded=set())
    assert "the C bubble sort from n = 20" in line and "np.sort: never" in line
    line, *_ = readings.crossovers(ts[:2] + ts[3:], recorded=set())
    assert "np.sort: not in this run" in line
    # "from n" only when it holds at every larger n measured
    ts2 = [cpu("c_bubble_scalar", 10, 1.0), cpu("c_bubble_scalar", 20, 1.0),
           gpu("bitonic", 10, 0.5), gpu("bitonic", 20, 2.0)]
    line, *_ = readings.crossovers(ts2, recorded=set())
    assert "first at n = 10, but not at every larger n measured" in line
    # Notebook 03's GPU versions without a time are named, never silently left out.
    named = {a.split()[0] for a in absent}
    assert {"odd_even_registers", "merge_split_interleaved", "cupy_sort"} <= named
    assert all("no crossover to compute" in a and "not yet measured on a GPU" in a
               for a in absent)


def test_launch_costs_say_plainly_when_no_graph_was_replayed():
    ts = [gpu("odd_even_global", 1000, 9e-3)]
    lines = readings.launch_costs(ts)
    assert "9 µs a launch from Python" in lines[0] and "No CUDA graph replay" in lines[1]
    ts.append(gpu("odd_even_global@graph", 1000, 3e-3, device=2e-3, launches=1000))
    assert "2 µs a launch on the GPU (device only" in readings.launch_costs(ts)[1]


def test_each_conclusion_follows_its_numbers():
    n = 2**14
    law = n * n / 8 / readings.H200_CLOCK_HZ
    base = [cpu("c_bubble_scalar", n, 0.3), gpu("odd_even_global", n, 0.15, host=0.99)]
    slower = readings.reading(base + [gpu("odd_even_shared", n, law),
                                      gpu("merge_split", n, 2 * law)], recorded=set())
    text = " ".join(slower)
    assert "Fewer barriers and slower" in text and "within 10 %" in text
    assert "Python is 99% of its event time" in text and "Answer: launches" in text
    assert "1,024 barriers to rung 8's 16,384 (1/16)" in text
    assert "a 16-way bank conflict wherever" in text
    assert "neither a CUDA graph replay" in text
    faster = " ".join(readings.reading(base + [gpu("odd_even_shared", n, 2 * law),
                                               gpu("merge_split", n, law)], recorded=set()))
    assert "Fewer barriers and faster" in faster and "does not account for all" in faster
    assert "Host-bound" in faster and "odd_even_global at n = 16,384 (99%)" in faster
    noisy_c = Timing((0.2, 0.3, 0.45), "c_bubble_scalar", "cpu", n)
    text = " ".join(readings.reading([noisy_c, gpu("odd_even_shared", n, law)], recorded=set()))
    assert "NOISY: IQR" in text and "the ratio is that uncertain" in text
    # Not host-bound (host share unknown, then 50 %): no "Answer: launches".
    cool = [cpu("c_bubble_scalar", n, 0.3), gpu("odd_even_global", n, 0.15, host=0.05),
            gpu("odd_even_shared", n, law)]
    assert "Answer: launches" not in " ".join(readings.reading(cool, recorded=set()))


def test_throughput_and_ceilings():
    n = 2**14
    rows = readings.throughput([gpu("odd_even_shared", n, 0.017), gpu("bitonic", n, 1e-3),
                                gpu("odd_even_global", n, 0.1), gpu("h2d", n, 1e-5)])
    by = {r.key: r for r in rows}
    assert set(by) == {"odd_even_shared", "bitonic", "odd_even_global"}
    assert by["odd_even_shared"].keys_per_s == pytest.approx(n / 0.017)
    assert by["odd_even_shared"].fraction == pytest.approx(n * n / 16 / 1.98e9 / 0.017)
    assert "HBM" in by["bitonic"].limit and by["odd_even_global"].fraction is None
    assert "none modelled" in by["odd_even_global"].limit  # says why there is no ceiling
    (ms,) = readings.throughput([gpu("merge_split", n, 1e-3)])
    assert ms.fraction == pytest.approx(1024 * n / 16 / 1.98e9 / 1e-3)  # p·n/16 cycles


def test_the_recorded_h200_run_says_what_issue_12_quotes():
    run = results.load_run(RECORDED)
    text = " ".join(readings.reading(run.timings, run.provenance.get("extra")))
    assert "rung 8 takes 17.2 ms" in text and "×18.1 over the scalar C bubble sort" in text
    assert "The wavefront law (a model) predicts 16.9 ms" in text and "= 1.017" in text
    assert "Answer: launches" in text and "in 17.2 ms (×8.77 less time)" in text
    assert "Merge-split (8b) takes 30.4 ms" in text and "Fewer barriers and slower" in text
    assert "bitonic at n = 1,024 (93%)" in text  # host-bound, from its recorded host time


def test_the_new_variants_are_measured_only_where_the_run_has_them():
    n = 2**14
    base = [cpu("c_bubble_scalar", n, 0.3), gpu("merge_split", n, 0.03)]
    absent = " ".join(readings.reading(base, recorded=set()))
    for label in ("8c", "8d", "9b", "7c"):  # named, with why -- never silently omitted
        assert f"Variant {label} (" in absent
    assert absent.count("not yet measured on a GPU") == 4
    assert "design target, not a measurement" in absent and "≤ 3 ms here" in absent
    assert "takes" not in absent.split("Variant 8c")[1].split(".")[0]  # no time claimed
    small = " ".join(readings.reading(base + [gpu("odd_even_registers", 1024, 1e-4)],
                                      recorded=set()))
    assert "Variant 8c (keys in registers): not measured at n = 16,384 in this run (only at " \
           "n = 1,024)" in small
    elsewhere = " ".join(readings.reading(base, recorded={"odd_even_registers"}))
    assert "a recorded run in results/ has one" in elsewhere
    text = " ".join(readings.reading(base + [gpu("odd_even_registers", n, 3e-3),
                                             gpu("merge_split_interleaved", n, 3e-3)],
                                     recorded=set()))
    assert "Variant 8c (keys in registers) takes 3 ms" in text and "×100 over the C" in text
    assert "8d (interleaved runs, no branch" in text and "3 ms" in text and "×10" in text


def test_the_recorded_runs_say_which_versions_no_gpu_has_run():
    recorded = readings.recorded_keys(results.REPO / "results")
    assert {"odd_even_shared", "merge_split", "bitonic", "cupy_sort"} <= recorded
    run = results.load_run(RECORDED)
    lines = readings.unmeasured(run.timings, recorded=recorded)
    assert {line.split()[1] for line in lines} >= {
        "odd_even_temporal", "odd_even_registers", "merge_split_interleaved",
        "bitonic_registers", "triton_bitonic"}
    assert not any(line.split()[1] in recorded for line in lines
                   if "not yet measured" in line)


def test_the_cpu_model_counts_fewer_stores_than_the_law():
    from py2ptx.cpu_trace import checks_available

    if not checks_available()[0]:
        pytest.skip(checks_available()[1])
    (report,) = readings.bank_reports("odd_even_shared", 64)
    counts = readings.bank_counts([report])
    assert counts["load_wavefronts"] >= 2 * counts["load_requests"] - 8  # 2-way, copies 1-way
    text = " ".join(readings.law_against_the_model(report, 64))
    assert "phase loads 512 wavefronts (the law: 256)" not in text  # loads match the law
    assert "phase loads 256 wavefronts (the law: 256)" in text and "the law overcounts" in text


def test_the_cpu_model_finds_8bs_stores_16_way_and_8ds_near_conflict_free():
    # Notebook 03 (8d-md, the reading): 8b is 16-way "wherever the lanes are at the same k,
    # as in every store of a merge"; 8d's own run is conflict-free. At n = 512 one warp
    # holds 32 runs of 16, as at 2^14.
    from py2ptx.cpu_trace import checks_available

    if not checks_available()[0]:
        pytest.skip(checks_available()[1])
    (before,) = readings.bank_reports("merge_split", 512)
    merge = [s for s in before.sites if "? mine[i" in s.text]  # keep_low, keep_high
    stores = [s for s in merge if s.kind == "store"]
    assert len(stores) == 2 and all(s.wavefronts == 16 * s.requests for s in stores)
    loads = [s for s in merge if s.kind == "load"]  # the heads drift apart: less than 16
    assert all(s.requests < s.wavefronts < 16 * s.requests for s in loads)
    (after,) = readings.bank_reports("merge_split_interleaved", 512)
    counts = readings.bank_counts([after])
    assert counts["store_wavefronts"] == counts["store_requests"]  # 1-way stores
    assert counts["load_wavefronts"] < 1.5 * counts["load_requests"]
