#!/usr/bin/env python3
"""Open the course in JupyterLab: the repository's root served, notebook 00 open.

    python tools/lab.py [JUPYTERLAB OPTIONS]     # what `make lab ARGS=...` runs

The root is served (not notebooks/), so every link in the notebooks -- previous, next, the
lab, the course map in README.md -- and labs/ and solutions/ open in JupyterLab.
tests/test_browser.py starts the course with the same command line (``command``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
START = "notebooks/00-the-stack.ipynb"


def command(root: Path = REPO, args: list[str] | tuple[str, ...] = ()) -> tuple[list[str], dict]:
    """The command line and environment that serve ``root`` with notebook 00 open."""
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}",
           str(root / START)]
    # JupyterLab refuses to start as root unless told; containers and cloud VMs often run so.
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in args:
        cmd.append("--allow-root")
    # This environment's "python3" kernel first, ahead of any user-wide one that might point
    # at another Python without the course's packages.
    data = str(Path(sys.prefix) / "share" / "jupyter")
    env = dict(os.environ, JUPYTER_PATH=os.pathsep.join(
        p for p in (data, os.environ.get("JUPYTER_PATH", "")) if p))
    return cmd + list(args), env


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    sys.path.insert(0, str(REPO / "tools"))
    import setup_venv

    # Set up by make, the environment has them already; a conda environment gets them here.
    setup_venv.install_settings(Path(sys.prefix))
    cmd, env = command(REPO, args)
    print("Opening the course in JupyterLab: " + " ".join(cmd[2:]), flush=True)
    if "--no-browser" in args:
        print("No browser: open the http://127.0.0.1:<port>/lab?token=... address printed "
              "below. On a remote machine, forward the port first (ssh -L 8888:localhost:8888 "
              "HOST) or listen on another address (ARGS='--no-browser --ip=0.0.0.0').",
              flush=True)
    os.execvpe(cmd[0], cmd, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
