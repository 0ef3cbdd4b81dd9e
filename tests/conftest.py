"""Shared test setup: a compile cache of the test session's own, a private results folder
per test, no GUI backend.

Nothing a test builds or records may land in the user's real cache or in the
repository's ``results/``: every test gets its own ``PY2PTX_RESULTS``, and a
``PY2PTX_CACHE`` (mode 0700, as :func:`py2ptx.cbuild.cache_dir` requires) that is the
session's -- shared by the tests, as a student's is by their notebooks, so the same C
is compiled once per run -- or, for a test that asks for the ``cache_dir`` fixture (it
looks at the cache itself), a private one.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Before any test module imports matplotlib.pyplot (py2ptx.plots does).
os.environ["MPLBACKEND"] = "Agg"


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The compile cache every test shares that does not ask for its own."""
    cache = tmp_path_factory.mktemp("py2ptx-session-cache")
    cache.chmod(0o700)
    return cache


@pytest.fixture(autouse=True)
def private_dirs(request: pytest.FixtureRequest, tmp_path: Path, session_cache: Path,
                 monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Point PY2PTX_RESULTS at a fresh folder of this test's own, and PY2PTX_CACHE at the
    session's cache -- or at a fresh one where the test asks for ``cache_dir``."""
    if "cache_dir" in request.fixturenames:
        cache = tmp_path / "py2ptx-cache"
        cache.mkdir(mode=0o700)
        cache.chmod(0o700)  # mkdir's mode is filtered by the umask; make it exact
    else:
        cache = session_cache
    results = tmp_path / "py2ptx-results"
    results.mkdir()
    monkeypatch.setenv("PY2PTX_CACHE", str(cache))
    monkeypatch.setenv("PY2PTX_RESULTS", str(results))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("PY2PTX_SCALE", raising=False)
    return {"cache": cache, "results": results}


@pytest.fixture
def cache_dir(private_dirs: dict[str, Path]) -> Path:
    """This test's private compile cache (PY2PTX_CACHE)."""
    return private_dirs["cache"]


@pytest.fixture
def results_dir(private_dirs: dict[str, Path]) -> Path:
    """This test's private results folder (PY2PTX_RESULTS)."""
    return private_dirs["results"]


def pytest_collection_modifyitems(config, items):
    """Skip ``@pytest.mark.gpu`` tests where there is no GPU -- except in the GPU check.

    ``make gpu-check`` sets PY2PTX_GPU_CHECK=1: there a GPU test that cannot run is a
    failure, so a broken CuPy install can never pass the GPU check by skipping.
    """
    from py2ptx.machine import gpu_info, has_gpu

    if has_gpu():
        return
    if os.environ.get("PY2PTX_GPU_CHECK") == "1":
        return  # run them anyway: each fails with the reason it has no GPU
    reason = f"needs an NVIDIA GPU and CuPy: {gpu_info().get('error')}"
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def fake_gpu(monkeypatch):
    """CuPy replaced by tests/fake_cupy.py for one test (kernels on CPU threads); every
    cached GPU probe forgotten around it. Skips on a machine with a real GPU."""
    import fake_cupy

    from py2ptx import gpu, machine

    if gpu.cupy_or_none() is not None:
        pytest.skip("this machine has a real GPU: the GPU check tests that")
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    gpu.numba_cuda()
    fake_cupy.install(monkeypatch)
    machine.forget()
    yield
    machine.forget()
