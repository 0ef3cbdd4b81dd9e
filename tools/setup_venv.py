#!/usr/bin/env python3
"""Set up the course's Python environment (.venv), saying what it does and how long it took.

    python3 tools/setup_venv.py lab    # what `make lab` needs: the package, JupyterLab, CuPy on a GPU
    python3 tools/setup_venv.py test   # the same plus the test extras (pytest, JupyterHub, Playwright)

The Makefile runs it before every command that needs .venv; it returns at once when the
environment is current. It recovers what it can and says what it cannot:

* a .venv it made that is broken (no pip -- an interrupted creation; a Python that no longer
  runs or is older than the course needs) is rebuilt; a .venv it did not make is left alone,
  and the message names the folder to remove;
* an unreachable package index is reported as such (and what to check) before pip's retries;
* a GPU that appears after set-up gets its CuPy wheel on the next `make lab`;
* JupyterLab's news and update pop-up is turned off (deploy/overrides.json, JupyterLab's
  documented overrides file in the environment's share/jupyter/lab/settings/).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MIN_PYTHON = (3, 10)
MARKER = ".made-by-py2ptx-setup"  # written into .venv before anything else goes in
LEGACY_STAMP = ".installed-stamp"  # what earlier versions of the Makefile left in .venv
EXTRAS = {"lab": "lab", "test": "lab,test"}
# Files whose content decides what is installed: a change to any of them reruns pip.
INPUTS = ("pyproject.toml", "tools/gpu_packages.sh", "deploy/overrides.json")
SETTINGS_SOURCE = REPO / "deploy" / "overrides.json"
SETTINGS_IN_PREFIX = Path("share", "jupyter", "lab", "settings", "overrides.json")
# Written by setuptools on every editable install of a package that sits in the project's
# root (py2ptx/ here): "be careful with folders ... with the same name as your package".
# Here that folder *is* the installed package, so the banner is hidden.
EDITABLE_BANNER = "BuildBackendWarning: Editable installation."
NETWORK_ERRORS = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Temporary failure in name "
    r"resolution|Name or service not known|Read timed out|ConnectTimeoutError|ProxyError|"
    r"Connection refused|Network is unreachable|No matching distribution found", re.I)


class SetupError(Exception):
    """A problem set-up cannot fix by itself; the message says what to do."""


def say(message: str) -> None:
    print(f"setup: {message}", flush=True)


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def made_by_us(venv: Path) -> bool:
    return (venv / MARKER).exists() or (venv / LEGACY_STAMP).exists()


def _run(cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def python_version(python: str | Path) -> tuple[int, int, int] | None:
    """The (major, minor, micro) of ``python``, or None if it does not run."""
    try:
        out = _run([str(python), "-c", "import sys; print(*sys.version_info[:3])"], timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return tuple(int(x) for x in out.stdout.split())  # type: ignore[return-value]


def venv_problem(venv: Path) -> str | None:
    """Why ``venv`` cannot be used as the course's environment, or None if it can."""
    if not (venv / "pyvenv.cfg").exists():
        return "it is not a Python virtual environment (it has no pyvenv.cfg)"
    version = python_version(venv_python(venv))
    if version is None:
        return (f"its Python ({venv_python(venv)}) does not run (was the Python it was made "
                f"from removed or upgraded?)")
    if version[:2] < MIN_PYTHON:
        return (f"it was made by Python {'.'.join(map(str, version))}, older than the "
                f"{'.'.join(map(str, MIN_PYTHON))} the course needs")
    try:
        pip = _run([str(venv_python(venv)), "-m", "pip", "--version"], timeout=60)
    except subprocess.TimeoutExpired:
        return "its pip does not answer"
    if pip.returncode != 0:
        return "it has no pip (was its creation interrupted?)"
    return None


def check_or_clear(venv: Path) -> None:
    """Leave a usable ``venv`` alone; rebuild a broken one we made; refuse a foreign one."""
    if not venv.exists() or (venv.is_dir() and not any(venv.iterdir())):
        return
    problem = venv_problem(venv)
    if problem is None:
        return
    if made_by_us(venv):
        say(f"{venv} is broken: {problem}. Rebuilding it.")
        shutil.rmtree(venv)
        return
    raise SetupError(
        f"{venv} cannot be used: {problem}. It was not made by this set-up, so it is left "
        f"as it is. Move it away or remove it, then run the command again:\n"
        f"    rm -rf {venv.resolve()}")


def create(venv: Path, python: str) -> None:
    version = python_version(python)
    if version is None:
        raise SetupError(f"'{python}' does not run. The course needs Python "
                         f"{'.'.join(map(str, MIN_PYTHON))} or newer; name one with "
                         f"make PYTHON=python3.12 ... (or a full path).")
    if version[:2] < MIN_PYTHON:
        raise SetupError(f"The course needs Python {'.'.join(map(str, MIN_PYTHON))} or newer; "
                         f"'{python}' is {'.'.join(map(str, version))}. Name another: "
                         f"make PYTHON=python3.12 ...")
    say(f"creating {venv} with Python {'.'.join(map(str, version))} ({python})")
    venv.mkdir(parents=True, exist_ok=True)
    (venv / MARKER).write_text("made by tools/setup_venv.py; safe to delete with the folder\n")
    out = subprocess.run([python, "-m", "venv", str(venv)], capture_output=True, text=True)
    if out.returncode != 0 or venv_problem(venv):
        shutil.rmtree(venv, ignore_errors=True)
        minor = f"{version[0]}.{version[1]}"
        raise SetupError(f"Could not create {venv} with '{python}':\n{out.stderr.strip()}\n"
                         f"On Debian/Ubuntu: sudo apt-get install python{minor}-venv")


def gpu_requirements() -> tuple[list[str], str]:
    """What tools/gpu_packages.sh asks for on this machine (CuPy for its driver), and why."""
    out = subprocess.run(["sh", str(REPO / "tools" / "gpu_packages.sh")], capture_output=True,
                         text=True)
    return out.stdout.split(), out.stderr.strip()


def inputs_digest(extras: str, gpu: list[str]) -> str:
    h = hashlib.sha256(f"{extras}|{' '.join(gpu)}".encode())
    for rel in INPUTS:
        path = REPO / rel
        h.update(rel.encode() + (path.read_bytes() if path.exists() else b""))
    return h.hexdigest()


def stamp_path(venv: Path, kind: str) -> Path:
    return venv / f".setup-{kind}.json"


def read_stamp(venv: Path, kind: str) -> dict:
    try:
        return json.loads(stamp_path(venv, kind).read_text())
    except (OSError, ValueError):
        return {}


def index_url(python: Path) -> str:
    """The package index pip will ask (for the message when it cannot be reached)."""
    try:
        listing = _run([str(python), "-m", "pip", "config", "list"]).stdout
    except (OSError, subprocess.TimeoutExpired):
        listing = ""
    found = re.findall(r"^[^=\n]*\.index-url='([^']*)'", listing, re.M)
    return found[-1] if found else "https://pypi.org/simple"


def unreachable_index_message(python: Path) -> str:
    url = index_url(python)
    return (f"Could not reach the package index ({url}). Check that this machine is online; "
            f"behind a proxy, set HTTPS_PROXY (and HTTP_PROXY); if your site uses its own "
            f"index, check PIP_INDEX_URL or `{python} -m pip config list`. Then run the "
            f"command again: what is already installed is kept.")


def check_index(python: Path) -> None:
    """Fail fast, with what to check, when the package index cannot be reached."""
    if os.environ.get("PIP_NO_INDEX", "").lower() in ("1", "true", "yes"):
        return  # installing from local wheels only (PIP_FIND_LINKS)
    try:
        out = _run([str(python), "-m", "pip", "index", "versions", "pip", "--retries", "0",
                    "--timeout", "20", "--disable-pip-version-check"], timeout=120)
    except subprocess.TimeoutExpired:
        raise SetupError(unreachable_index_message(python)) from None
    # pip is on every index; not finding it means no index answered.
    if out.returncode != 0 and NETWORK_ERRORS.search(out.stdout + out.stderr):
        raise SetupError(unreachable_index_message(python))


def pip(python: Path, args: list[str]) -> None:
    """Run pip, its progress shown line by line; setuptools' editable banner left out."""
    cmd = [str(python), "-m", "pip", *args, "--disable-pip-version-check"]
    process = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1)
    seen, banner = [], False
    assert process.stdout is not None
    for line in process.stdout:
        seen.append(line)
        if EDITABLE_BANNER in line:
            banner = True
        if banner:
            banner = not line.strip().startswith("with strategy")  # the banner's last line
            continue
        if line.startswith("Requirement already satisfied"):
            continue  # thousands of lines on a re-run, none of them news
        print("    " + line.rstrip(), flush=True)
    if process.wait() != 0:
        text = "".join(seen)
        if NETWORK_ERRORS.search(text):
            raise SetupError(unreachable_index_message(python))
        raise SetupError(f"pip failed (exit status {process.returncode}); its messages are "
                         f"above. The command was:\n    {' '.join(cmd)}")


def install_settings(prefix: Path) -> Path:
    """Merge the course's JupyterLab settings into ``prefix``'s overrides.json.

    Only the course's keys are written; any other override already there is kept.
    """
    target = prefix / SETTINGS_IN_PREFIX
    ours = json.loads(SETTINGS_SOURCE.read_text())
    try:
        current = json.loads(target.read_text())
    except (OSError, ValueError):
        current = {}
    merged = dict(current)
    for plugin, settings in ours.items():
        merged[plugin] = {**current.get(plugin, {}), **settings}
    if merged != current:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(merged, indent=2) + "\n")
    return target


def folder_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def human(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1000 or unit == "GB":
            return f"{nbytes:.1f} {unit}" if unit == "GB" else f"{nbytes:.0f} {unit}"
        nbytes /= 1000
    return f"{nbytes:.1f} GB"


def minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def setup(kind: str, venv: Path, python: str) -> bool:
    """Bring ``venv`` up to date for ``kind``; True if anything was installed."""
    extras = EXTRAS[kind]
    check_or_clear(venv)
    gpu, gpu_note = gpu_requirements()
    digest = inputs_digest(extras, gpu)
    if venv.exists() and read_stamp(venv, kind).get("inputs") == digest:
        return False

    start = time.monotonic()
    fresh = not venv_python(venv).exists()
    if fresh:
        create(venv, python)
    py = venv_python(venv)
    previous_gpu = read_stamp(venv, kind).get("gpu")
    if previous_gpu == [] and gpu:
        say(f"a GPU appeared since set-up: adding {' '.join(gpu)}")
    elif gpu_note:
        say(gpu_note)
    say("checking that the package index can be reached")
    check_index(py)
    if fresh:
        say("upgrading pip (the one venv brings may be too old for editable installs)")
        pip(py, ["install", "--upgrade", "pip"])
    what = {"lab": "the course's packages and JupyterLab",
            "test": "the course's packages, JupyterLab and the test tools"}[kind]
    size = "about 1.5 GB, a few minutes on a fast connection" if fresh else "only what changed"
    say(f"installing {what} into {venv} ({size})")
    pip(py, ["install", "-e", f".[{extras}]", *gpu])
    settings = install_settings(venv)
    say(f"JupyterLab's news and update pop-up turned off ({settings.relative_to(venv)})")
    record = {"inputs": digest, "gpu": gpu, "extras": extras}
    stamp_path(venv, kind).write_text(json.dumps(record) + "\n")
    if kind == "test":  # the test extras include lab's
        stamp_path(venv, "lab").write_text(json.dumps({**record, "inputs": inputs_digest(
            EXTRAS["lab"], gpu), "extras": EXTRAS["lab"]}) + "\n")
    say(f"done in {minutes(time.monotonic() - start)}; {venv} holds "
        f"{human(folder_size(venv))} (the course's Python, packages and CUDA tools; nothing "
        f"was installed outside it)")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(EXTRAS))
    parser.add_argument("--venv", type=Path, default=REPO / ".venv")
    parser.add_argument("--python", default=os.environ.get("PYTHON", "python3"),
                        help="the Python that creates the environment (make PYTHON=...)")
    args = parser.parse_args(argv)
    venv = args.venv if args.venv.is_absolute() else Path.cwd() / args.venv
    try:
        setup(args.kind, venv, args.python)
    except SetupError as err:
        print(f"setup: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nsetup: interrupted; the next `make` command picks up where this one "
              f"stopped (or rebuilds {venv} if it was being created)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
