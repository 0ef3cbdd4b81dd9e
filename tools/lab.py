#!/usr/bin/env python3
"""Open the course in JupyterLab: the repository's root served, notebook 00 open.

    python tools/lab.py [JUPYTERLAB OPTIONS]     # what `make lab ARGS=...` runs

* The root is served (not notebooks/), so every link in the notebooks -- previous, next,
  the lab, the course map in README.md -- and labs/ and solutions/ open in JupyterLab.
* The course's notebooks are saved without outputs (tools/clean_notebooks.py's
  ``pre_save_hook``, Jupyter's own hook for this): running them leaves git's tracked files
  as they were; edits to cells are saved as usual.
* The course's JupyterLab settings (deploy/overrides.json: no news or update pop-up) are
  in the environment (`make setup` puts them there; a conda environment gets them here).

tests/test_browser.py starts the course with this same command line (``command``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
START = "notebooks/00-the-stack.ipynb"


def command(root: Path = REPO, args: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The command line `make lab` runs, for the course at ``root`` (a copy has its own)."""
    return [sys.executable, str(root / "tools" / "lab.py"), *args]


def lab_arguments(args: list[str] | tuple[str, ...] = ()) -> list[str]:
    """JupyterLab's arguments: this course's root, notebook 00, the save hook, then ``args``."""
    argv = [f"--ServerApp.root_dir={REPO}", str(REPO / START),
            "--ContentsManager.pre_save_hook=clean_notebooks.pre_save_hook"]
    # JupyterLab refuses to start as root unless told; containers and cloud VMs often run so.
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in args:
        argv.append("--allow-root")
    return argv + list(args)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    sys.path.insert(0, str(REPO / "tools"))  # clean_notebooks, for the save hook
    import setup_venv

    setup_venv.install_settings(Path(sys.prefix))
    # This environment's "python3" kernel first, ahead of any user-wide one that might point
    # at another Python without the course's packages.
    data = str(Path(sys.prefix) / "share" / "jupyter")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (data, os.environ.get("JUPYTER_PATH", "")) if p)
    if "--no-browser" in args:
        print("No browser: open the http://127.0.0.1:<port>/lab?token=... address JupyterLab "
              "prints below. On a remote machine, forward the port first (ssh -L "
              "8888:localhost:8888 HOST, then the address on your own machine), or listen on "
              "another address: make lab ARGS='--no-browser --ip=0.0.0.0'.", flush=True)
    from jupyterlab.labapp import LabApp

    LabApp.launch_instance(argv=lab_arguments(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
