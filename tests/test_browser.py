"""A real browser: Debian's Chromium, driven by Playwright, walks the course in JupyterLab.

The course is started the way `make lab` starts it -- the command line of tools/lab.py,
serving the repository's root with notebook 00 -- in a copy of the repository (so nothing
the test runs or saves touches the sources), and the browser goes where JupyterLab sends it.

* Notebook 00: Run > Run All Cells, then the stack explorer answers a click (no "Error
  displaying widget"), as on a student's first day.
* The walk: every navigation link of every notebook (previous, next, its lab, the course
  map in README.md) is clicked, and the tab that opens is the one the link names; a
  solution is opened from the file browser and a cell of it runs.
* No pop-up, ever: no dialog and no toast (JupyterLab's "Would you like to get notified
  about official Jupyter news?" is turned off by the course's settings, deploy/overrides.json).

Playwright uses the system's Chromium (``executable_path``); its own browser download
(``playwright install``) is never used. The screenshots are kept in ``test-artifacts/`` for a
person to look at.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import course_map  # noqa: E402
import lab  # noqa: E402
import pytest
import requests
import setup_venv  # noqa: E402
from deploy_support import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    LOOPBACK,
    REPO,
    chromium,
    free_port,
    jupyter_server_pids,
    kill_pid,
    require,
    start,
    stop,
    wait_for,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]
NOTEBOOK = lab.START
SOLUTION = "solutions/01-lab-bubble-sort.ipynb"
LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


def _sync_api():
    try:
        from playwright import sync_api
    except ImportError:  # the test extra installs it; `make test` sets that up
        sync_api = None
    return require(sync_api, "no Python playwright (pip install -e '.[test]')")


def repository_copy(dest: Path) -> Path:
    """The files git tracks, as they are in the working tree, copied to ``dest``."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.split("\0")
    for rel in filter(None, tracked):
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REPO / rel, dest / rel)
    return dest


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """JupyterLab started as `make lab` starts it, on 127.0.0.1 with a token.

    Yields the URL JupyterLab opened (its redirect file: where `make lab` sends the browser)
    and the copy it serves. Stopped by PID afterwards.
    """
    chromium()  # skip (or fail, in CI) before starting anything
    settings = Path(sys.prefix) / setup_venv.SETTINGS_IN_PREFIX
    ours = json.loads(setup_venv.SETTINGS_SOURCE.read_text())
    found = json.loads(settings.read_text()) if settings.exists() else {}
    assert all(found.get(k, {}).items() >= v.items() for k, v in ours.items()), (
        f"the course's JupyterLab settings are not in {settings}: run `make setup-test` "
        f"(tools/setup_venv.py installs them)")
    base = tmp_path_factory.mktemp("course")
    root = repository_copy(base / "py2ptx")
    home, runtime = base / "home", base / "runtime"
    home.mkdir()
    runtime.mkdir()
    # Where `make lab` calls a browser, this records the address it was given.
    opened = base / "opened-url"
    browser = base / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf %s "$1" > {opened}\n')
    browser.chmod(0o755)
    port, token = free_port(), secrets.token_hex(16)
    cmd = lab.command(root, [f"--ServerApp.browser={browser} %s", f"--ServerApp.ip={LOOPBACK}",
                             f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
                             "--ServerApp.port_retries=0"])
    env = dict(os.environ, HOME=str(home), JUPYTER_RUNTIME_DIR=str(runtime),
               PYTHONPATH=str(root))
    env.pop("MPLBACKEND", None)  # inline figures, as a student gets them
    log = base / "jupyterlab.log"
    process = start(cmd, log, base, env)
    url = f"http://{LOOPBACK}:{port}"
    try:
        wait_for(lambda: requests.get(f"{url}/api/status", timeout=2,
                                      headers={"Authorization": f"token {token}"}).ok,
                 "JupyterLab", 60, process, log)
        first = wait_for(lambda: opened.exists() and opened.read_text(), "the browser call",
                         30, process, log)
        yield {"url": url, "token": token, "opened": first, "root": root}
    finally:
        stop(process)
        for pid in jupyter_server_pids(runtime):
            kill_pid(pid)


@pytest.fixture
def page(course, request):
    """A Chromium page; what it showed last is kept (test-artifacts/browser-TEST-end.png)."""
    sync_api = _sync_api()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS,
                                     headless=True)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            yield tab
        finally:
            if browser.is_connected():
                tab.screenshot(path=str(ARTIFACTS / f"browser-{request.node.name[5:40]}-end.png"))
            browser.close()


def _open_as_make_lab_does(page, course):
    """Follow the address JupyterLab gave its browser (a redirect file) to notebook 00."""
    opened = course["opened"]
    page.goto(opened if "://" in opened else Path(opened).as_uri())
    page.wait_for_url(re.compile(r"/lab/tree/notebooks/00-the-stack\.ipynb"), timeout=60_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)


def _wait_for_tab(page, path: str) -> None:
    """Wait until the current tab is the document at ``path`` (relative to the root).

    The tab's caption names the path ("Path: solutions/..."): labs/ and solutions/ hold
    files of the same name, so the title alone would not tell them apart.
    """
    page.wait_for_function(
        """path => [...document.querySelectorAll(
              '#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current')]
              .some(t => (t.getAttribute('title') || '').split('\\n').includes('Path: ' + path))""",
        arg=path, timeout=60_000)


def _select_tab(page, path: str) -> None:
    page.locator(f"#jp-main-dock-panel .lm-TabBar-tab[title*='Path: {path}']").first.click()
    _wait_for_tab(page, path)


def _no_popup(page, where: str) -> None:
    """No dialog and no notification toast (the news question is one) is showing."""
    dialogs = page.locator(".jp-Dialog")
    assert dialogs.count() == 0, f"{where}: a dialog is open: {dialogs.first.inner_text()}"
    toasts = page.locator(".Toastify__toast")
    assert toasts.count() == 0, f"{where}: a pop-up is showing: {toasts.first.inner_text()}"
    assert page.get_by_text("Jupyter news").count() == 0, f"{where}: the news question shows"


def _navigation_cell(page):
    """The current notebook's last cell (its navigation, written by tools/course_map.py)."""
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first
    cell = panel.locator(".jp-MarkdownCell").last
    cell.scroll_into_view_if_needed()
    cell.locator(".jp-RenderedMarkdown a").first.wait_for(timeout=30_000)
    return cell


def _expected_path(notebook: Path, target: str) -> str:
    """The file a navigation link of ``notebook`` opens, relative to the served root."""
    return os.path.normpath(Path("notebooks", target.split("#", 1)[0])).replace(os.sep, "/")


def test_make_lab_opens_notebook_00_at_the_root_and_its_widget_answers(course, page):
    _open_as_make_lab_does(page, course)
    _wait_for_tab(page, NOTEBOOK)
    # The root is served: labs/ and solutions/ are in the file browser beside notebooks/.
    page.locator(".jp-BreadCrumbs-home").first.click()
    listing = page.locator(".jp-DirListing-content")
    for name in ("labs", "notebooks", "solutions", "README.md"):
        listing.locator(".jp-DirListing-itemName", has_text=re.compile(f"^{name}$")).first \
            .wait_for(timeout=30_000)
    page.wait_for_selector("text=Python 3 (ipykernel) | Idle", timeout=60_000)

    # Run > Run All Cells, the way a student does it.
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

    widget = page.locator(".widget-toggle-buttons").first
    widget.wait_for(timeout=90_000)
    explorer = page.locator(".jp-OutputArea-output", has=widget).first
    # The artifact's title is bold above its text (the dropdown's options hold it too).
    explorer.locator("b", has_text="PTX, .target sm_90").wait_for(timeout=30_000)
    # Every cell has run: no prompt still shows [*].
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-InputPrompt')]"
        ".every(p => !p.textContent.includes('*'))", timeout=90_000)

    assert _drawn(explorer) > 0.4, "the stack diagram is missing or blank"
    before = explorer.locator("img").first.get_attribute("src")
    # A click on another layer: the kernel answers with that layer's artifact.
    explorer.locator("button", has_text="Application").click()
    explorer.locator("b", has_text="Python source").wait_for(timeout=30_000)
    explorer.locator("pre", has_text="def compare_swap").wait_for(timeout=30_000)
    # ... and redraws the diagram for it, with the layer's caption beneath.
    explorer.locator("p b", has_text="Application").wait_for(timeout=30_000)
    page.wait_for_selector("text=Python 3 (ipykernel) | Idle", timeout=30_000)
    # The diagram, redrawn for the chosen layer, is drawn in full: its coloured boxes
    # cover about half the image (a partly drawn figure once showed two boxes or none).
    assert explorer.locator("img").first.get_attribute("src") != before, "not redrawn"
    assert _drawn(explorer) > 0.4, "the redrawn stack diagram is partly drawn or blank"
    explorer.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "browser-00-the-stack.png"))

    assert page.get_by_text("Error displaying widget").count() == 0
    errors = page.locator(".jp-OutputArea-output[data-mime-type="
                          "'application/vnd.jupyter.stderr']", has_text="Traceback")
    assert errors.count() == 0, errors.first.inner_text()
    assert "mod-active" in (explorer.locator("button", has_text="Application")
                            .get_attribute("class") or "")
    _no_popup(page, "notebook 00 after Run All")
    # Saved after the run, notebook 00 is byte for byte what git has (tools/lab.py's hook).
    _save_and_compare(page, course["root"], NOTEBOOK)


def test_every_navigation_link_opens_in_jupyterlab_and_a_solution_runs(course, page):
    _open_as_make_lab_does(page, course)
    notebooks = course_map.notebooks()
    clicked = []
    for i, nb in enumerate(notebooks):
        _wait_for_tab(page, f"notebooks/{nb.name}")
        links = LINK.findall(course_map.navigation(nb))
        assert links, f"{nb.name} has no navigation links"
        for text, target in links:
            expected = _expected_path(nb, target)
            _navigation_cell(page).locator("a", has_text=text).first.click()
            _wait_for_tab(page, expected)
            clicked.append(f"{nb.name}: {text} -> {expected}")
            if target.endswith("#course-map"):
                # The README opens where the link points: at the course map's heading.
                page.locator("#jp-main-dock-panel h2", has_text="Course map").first \
                    .wait_for(timeout=30_000)
                if i == 0:
                    page.screenshot(path=str(ARTIFACTS / "browser-course-map-from-link.png"))
            if i == 1 and target.startswith("../labs/"):
                page.screenshot(path=str(ARTIFACTS / "browser-lab-from-link.png"))
            # Back to the notebook whose links are being clicked.
            _select_tab(page, f"notebooks/{nb.name}")
        _no_popup(page, nb.name)
        if i + 1 < len(notebooks):  # opened by its "next" link above
            _select_tab(page, f"notebooks/{notebooks[i + 1].name}")
    page.screenshot(path=str(ARTIFACTS / "browser-course-walk.png"))
    expected_clicks = sum(len(LINK.findall(course_map.navigation(nb))) for nb in notebooks)
    assert len(clicked) == expected_clicks, clicked
    (ARTIFACTS / "browser-course-walk.txt").write_text("\n".join(clicked) + "\n")

    # A solution, opened from the file browser as an instructor does, runs a cell.
    _select_tab(page, NOTEBOOK)
    listing = page.locator(".jp-DirListing-content")
    page.locator(".jp-BreadCrumbs-home").first.click()
    listing.locator(".jp-DirListing-itemName", has_text=re.compile("^solutions$")).first \
        .dblclick()
    name = Path(SOLUTION).name
    listing.locator(".jp-DirListing-itemName", has_text=re.compile(f"^{re.escape(name)}$")) \
        .first.dblclick()
    _wait_for_tab(page, SOLUTION)
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first
    panel.locator(".jp-Notebook-ExecutionIndicator, .jp-Toolbar").first.wait_for(timeout=30_000)
    page.wait_for_selector("text=Python 3 (ipykernel) | Idle", timeout=60_000)
    first_code = panel.locator(".jp-CodeCell").first
    first_code.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    first_code.locator(".jp-InputPrompt", has_text="[1]").wait_for(timeout=60_000)
    assert first_code.locator(".jp-OutputArea-output[data-mime-type="
                              "'application/vnd.jupyter.stderr']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "browser-solution-cell.png"))
    _no_popup(page, name)
    _save_and_compare(page, course["root"], SOLUTION)


def _save_and_compare(page, root: Path, rel: str) -> None:
    """Save the current notebook (Ctrl+S); the file must equal the repository's."""
    path = root / rel
    before = path.stat().st_mtime_ns
    page.keyboard.press("Control+s")
    wait_for(lambda: path.stat().st_mtime_ns != before, f"the save of {rel}", 30)
    page.wait_for_function("""() => !document.querySelector(
        '#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current.jp-mod-dirty')""", timeout=30_000)
    assert path.read_bytes() == (REPO / rel).read_bytes(), (
        f"{rel}, run and saved in JupyterLab, differs from the repository's: outputs or "
        f"metadata reached the file")


def _drawn(explorer) -> float:
    """The fraction of the widget's diagram image covered by ink (not white, not transparent)."""
    image = explorer.locator("img").first
    image.wait_for(timeout=30_000)
    return image.evaluate("""img => {
        const canvas = document.createElement("canvas");
        canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
        const g = canvas.getContext("2d");
        g.drawImage(img, 0, 0);
        const px = g.getImageData(0, 0, canvas.width, canvas.height).data;
        let ink = 0;
        for (let i = 0; i < px.length; i += 4)
            if (px[i + 3] > 0 && (px[i] < 235 || px[i + 1] < 235 || px[i + 2] < 235)) ink++;
        return ink / Math.max(1, canvas.width * canvas.height);
    }""")


def test_the_lab_command_serves_the_root_with_notebook_00():
    """`make lab` and this test share tools/lab.py's command line."""
    assert lab.command(REPO, ["--no-browser"]) == [sys.executable, str(REPO / "tools" / "lab.py"),
                                                   "--no-browser"]
    argv = lab.lab_arguments(["--no-browser"])
    assert argv[:3] == [f"--ServerApp.root_dir={REPO}", str(REPO / NOTEBOOK),
                        "--ContentsManager.pre_save_hook=clean_notebooks.pre_save_hook"]
    assert argv[-1] == "--no-browser"
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^lab: setup\n\t\$\(PY\) tools/lab\.py \$\(ARGS\)$", makefile, re.M)
