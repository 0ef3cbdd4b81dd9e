"""What the deployment tests share: prerequisites, free ports, servers started and stopped by PID.

A prerequisite that is missing (Chromium, configurable-http-proxy) skips a test on a
user's machine, with the reason printed by ``pytest -ra``; in CI (``CI=true``) it fails
the test instead, because `.ci/run` installs them and a skip there would hide a regression.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
VENV_BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def require(found, reason: str):
    """``found`` if truthy; otherwise skip (on a user's machine) or fail (in CI) with ``reason``."""
    if found:
        return found
    if in_ci():
        pytest.fail(f"CI must run this test, but {reason} (.ci/run installs it)", pytrace=False)
    pytest.skip(reason)


def chromium() -> str:
    """The system's Chromium (Debian's package); Playwright's own download is never used."""
    found = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p), None)
    return require(found, "no system Chromium (on Debian/Ubuntu: sudo apt-get install chromium)")


def http_proxy() -> str:
    """configurable-http-proxy, JupyterHub's proxy (an npm package)."""
    found = shutil.which("configurable-http-proxy")
    return require(found, "no configurable-http-proxy (npm install -g configurable-http-proxy)")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_for(check, what: str, timeout: float, process: subprocess.Popen | None = None,
             log: Path | None = None):
    """Poll ``check()`` until it returns something truthy; fail with the log if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        try:
            result = check()
        except OSError:  # connection refused while the server starts
            result = None
        if result:
            return result
        time.sleep(0.2)
    tail = log.read_text()[-4000:] if log and log.exists() else ""
    state = f"exited with {process.returncode}" if process and process.poll() is not None \
        else f"not ready after {timeout:.0f} s"
    pytest.fail(f"{what} {state}\n--- log ---\n{tail}", pytrace=False)


def start(cmd: list[str], log: Path, cwd: Path, env: dict) -> subprocess.Popen:
    """Start a server in its own process group, its output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def stop(process: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM by PID, so the server cleans up after itself; SIGKILL if it does not exit."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def kill_pid(pid: int) -> bool:
    """Stop one leftover process by PID; True if it was still running."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True


def jupyter_server_pids(runtime_dir: Path) -> list[int]:
    """PIDs of the Jupyter servers that wrote their runtime files into ``runtime_dir``."""
    pids = []
    for info in runtime_dir.glob("jpserver-*.json"):
        try:
            pids.append(int(json.loads(info.read_text())["pid"]))
        except (ValueError, KeyError):
            continue
    return pids


def course_copy(dest: Path) -> Path:
    """An instructor's clone of the course, as committed plus working-tree edits, in ``dest``.

    Only the files the student tree is built from are copied (tracked by git), so the copy
    is small; the tests change it freely without touching the repository.
    """
    import student_tree  # tools/, on pytest's pythonpath

    files = student_tree.source_files(REPO) + ["README.md"]
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / rel, dest / rel)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "course as the instructor has it")
    return dest


def git(cwd: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="instructor", GIT_AUTHOR_EMAIL="instructor@localhost",
               GIT_COMMITTER_NAME="instructor", GIT_COMMITTER_EMAIL="instructor@localhost")
    out = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, f"git {' '.join(args)}: {out.stderr}"
    return out.stdout.strip()
