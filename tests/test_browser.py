"""A real browser: Debian's Chromium, driven by Playwright, runs notebook 00 in JupyterLab.

What a student does on the first day: open the notebook, Run > Run All Cells, play with the
stack explorer. The test asserts the widget renders (no "Error displaying widget") and
answers a click by showing the chosen layer's artifact. The screenshot is kept in
``test-artifacts/`` for a person to look at.

Playwright uses the system's Chromium (``executable_path``); its own browser download
(``playwright install``) is never used. JupyterLab serves a student tree built by
tools/student_tree.py, on 127.0.0.1 with a token, its files in a temporary folder.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import pytest
import requests
import student_tree  # noqa: E402
from deploy_support import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    LOOPBACK,
    VENV_BIN,
    chromium,
    free_port,
    jupyter_server_pids,
    kill_pid,
    require,
    start,
    stop,
    wait_for,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
NOTEBOOK = "notebooks/00-the-stack.ipynb"


@pytest.fixture
def jupyterlab(tmp_path):
    """JupyterLab on 127.0.0.1 serving a fresh student tree; stopped by PID afterwards."""
    chromium()  # skip (or fail, in CI) before starting anything
    tree = tmp_path / "py2ptx"
    student_tree.build(tree)
    home, runtime = tmp_path / "home", tmp_path / "runtime"
    home.mkdir()
    runtime.mkdir()
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, HOME=str(home), JUPYTER_RUNTIME_DIR=str(runtime),
               JUPYTER_PATH=str(Path(sys.prefix) / "share" / "jupyter"), PYTHONPATH=str(tree))
    env.pop("MPLBACKEND", None)  # inline figures, as a student gets them
    cmd = [str(VENV_BIN / "jupyter-lab"), "--no-browser", f"--ServerApp.ip={LOOPBACK}",
           f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={tree}", "--ServerApp.port_retries=0"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = tmp_path / "jupyterlab.log"
    process = start(cmd, log, tmp_path, env)
    url = f"http://{LOOPBACK}:{port}"
    try:
        wait_for(lambda: requests.get(f"{url}/api/status", timeout=2,
                                      headers={"Authorization": f"token {token}"}).ok,
                 "JupyterLab", 60, process, log)
        yield url, token
    finally:
        stop(process)
        for pid in jupyter_server_pids(runtime):
            kill_pid(pid)


def test_notebook_00_runs_in_chromium_and_the_stack_widget_answers(jupyterlab):
    try:
        from playwright import sync_api
    except ImportError:  # the test extra installs it; `make test` sets that up
        sync_api = None
    sync_api = require(sync_api, "no Python playwright (pip install -e '.[test]')")
    executable = chromium()
    url, token = jupyterlab
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "browser-00-the-stack.png"
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/lab/tree/{NOTEBOOK}?reset&token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            page.wait_for_selector("text=Python 3 (ipykernel) | Idle", timeout=60_000)

            # Run > Run All Cells, the way a student does it.
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

            widget = page.locator(".widget-toggle-buttons").first
            widget.wait_for(timeout=60_000)
            explorer = page.locator(".jp-OutputArea-output", has=widget).first
            # The artifact's title is bold above its text (the dropdown's options hold it too).
            explorer.locator("b", has_text="PTX for sm_90").wait_for(timeout=30_000)
            # Every cell has run: no prompt still shows [*].
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-InputPrompt')]"
                ".every(p => !p.textContent.includes('*'))", timeout=60_000)

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
            page.screenshot(path=str(shot))

            assert page.get_by_text("Error displaying widget").count() == 0
            errors = page.locator(".jp-OutputArea-output[data-mime-type="
                                  "'application/vnd.jupyter.stderr']", has_text="Traceback")
            assert errors.count() == 0, errors.first.inner_text()
            assert "mod-active" in (explorer.locator("button", has_text="Application")
                                    .get_attribute("class") or "")
        except Exception:
            if not browser.is_connected():
                raise
            browser.contexts[0].pages[0].screenshot(path=str(shot))  # what went wrong, kept
            raise
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000


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
