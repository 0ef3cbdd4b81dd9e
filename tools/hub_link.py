#!/usr/bin/env python3
"""Print the nbgitpuller link that gives a student the course on a JupyterHub.

    python tools/hub_link.py https://hub.example.edu notebooks/00-the-stack.ipynb \\
        --repo https://github.com/ORG/py2ptx

Clicking the link logs the student in, starts their server, clones the student branch into
``~/<target>`` (or merges the latest commit into their copy, keeping their edits) and opens the
notebook. The link always names the branch: without one nbgitpuller takes the repository's
default branch, which is the instructors' (with solutions/), not the students'.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path, PurePosixPath
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from student_tree import INCLUDE, NEVER, REPO  # noqa: E402

# The folder in the student's home. deploy/z2jh-values.yaml puts it on PYTHONPATH, so the
# package that came with the notebooks is the one they import.
TARGET = "py2ptx"
BRANCH = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]+(?<![./])$")


class LinkError(ValueError):
    """Bad input: the message says what was wrong and what is expected."""


def hub_base(url: str) -> str:
    """The hub's base URL (scheme, host, optional prefix) without a trailing slash."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LinkError(f"hub URL {url!r} is not an http(s) URL; give the address students open, "
                        "e.g. https://hub.example.edu")
    if parts.query or parts.fragment or " " in url:
        raise LinkError(f"hub URL {url!r} has a query, fragment or space; give only its base, "
                        "e.g. https://hub.example.edu")
    segments = [s for s in parts.path.split("/") if s]
    for index, segment in enumerate(segments):
        if segment in ("hub", "user"):
            base = f"{parts.scheme}://{parts.netloc}" + "".join("/" + s for s in segments[:index])
            raise LinkError(f"{url!r} is a page of the hub, not its base URL; use {base!r}")
    return url.strip().rstrip("/")


def check_notebook(notebook: str, source: Path = REPO) -> str:
    """``notebook`` as a path inside the student tree, if it exists there."""
    rel = PurePosixPath(notebook.strip().removeprefix("./"))
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise LinkError(f"notebook {notebook!r} must be a path inside the course, "
                        "e.g. notebooks/00-the-stack.ipynb")
    if rel.parts[0] in NEVER:
        raise LinkError(f"{rel} is under {rel.parts[0]}/, which students never receive")
    if rel.parts[0] not in INCLUDE or not (source / rel).is_file():
        known = sorted(str(p.relative_to(source)) for top in ("notebooks", "labs")
                       for p in (source / top).glob("*.ipynb"))
        close = difflib.get_close_matches(str(rel), known, n=1, cutoff=0.3) or known[:1]
        raise LinkError(f"no notebook {str(rel)!r} in the student tree"
                        + (f"; did you mean {close[0]!r}?" if close else ""))
    return str(rel)


def check_repo(repo: str) -> str:
    parts = urlsplit(repo)
    web = parts.scheme in ("http", "https") and parts.hostname
    local = parts.scheme == "file" and parts.path
    if web or local:
        return repo.rstrip("/")
    raise LinkError(f"repository {repo!r} must be an http(s):// URL the hub can clone "
                    "(or file:// for a repository on the hub's own disk)")


def link(hub: str, notebook: str, repo: str, branch: str = "student", target: str | None = None,
         app: str = "lab", source: Path = REPO) -> str:
    """The nbgitpuller link (a URL on ``hub``) that opens ``notebook`` from ``repo``'s ``branch``."""
    base, notebook, repo = hub_base(hub), check_notebook(notebook, source), check_repo(repo)
    if not BRANCH.match(branch):
        raise LinkError(f"branch {branch!r} is not a valid git branch name")
    target = target or TARGET
    if not target or "/" in target or target in (".", ".."):
        raise LinkError(f"target folder {target!r} must be one folder name, e.g. py2ptx")
    opened = f"lab/tree/{target}/{notebook}" if app == "lab" else f"notebooks/{target}/{notebook}"
    query = urlencode({"repo": repo, "branch": branch, "targetpath": target, "urlpath": opened})
    return f"{base}/hub/user-redirect/git-pull?{query}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hub", help="the hub's base URL, e.g. https://hub.example.edu")
    parser.add_argument("notebook", help="path in the student tree, e.g. labs/01-lab-bubble-sort.ipynb")
    parser.add_argument("--repo", required=True,
                        help="URL of the git repository that holds the student branch")
    parser.add_argument("--branch", default="student", help="the student branch (default: student)")
    parser.add_argument("--target", help=f"folder in the student's home (default: {TARGET})")
    parser.add_argument("--app", choices=("lab", "notebook"), default="lab",
                        help="open in JupyterLab (default) or Jupyter Notebook 7")
    args = parser.parse_args(argv)
    try:
        print(link(args.hub, args.notebook, args.repo, args.branch, args.target, args.app))
    except LinkError as err:
        print(f"hub_link: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
