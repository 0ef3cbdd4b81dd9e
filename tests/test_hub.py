"""A real JupyterHub on 127.0.0.1: a student gets the course with nbgitpuller and runs notebook 00.

The hub (jupyterhub from PyPI, configurable-http-proxy from npm) runs with the
DummyAuthenticator and the SimpleLocalProcessSpawner, every port on 127.0.0.1, its files in
a temporary folder; the test starts it and stops it by PID. The student's home is a
temporary folder too. The course reaches the student the way it does in class: the
student-tree tool commits the tree on branch ``student`` of a git repository (here on the
hub's disk, a file:// URL), and the student's server pulls it with nbgitpuller.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
import uuid
from pathlib import Path

import hub_link  # noqa: E402
import nbformat
import pytest
import requests
import student_tree  # noqa: E402
import websocket
from deploy_support import (
    ARTIFACTS,
    LOOPBACK,
    VENV_BIN,
    course_copy,
    free_port,
    git,
    http_proxy,
    jupyter_server_pids,
    kill_pid,
    start,
    stop,
    wait_for,
)

pytestmark = [pytest.mark.hub, pytest.mark.timeout(120)]
NOTEBOOK = "notebooks/00-the-stack.ipynb"
LAB = "labs/01-lab-bubble-sort.ipynb"
STUDENT = "student"


class Hub:
    """One running hub, and what a test needs to talk to it."""

    def __init__(self, root: Path):
        self.root = root
        self.url = f"http://{LOOPBACK}:{free_port()}"
        self.admin_token = secrets.token_hex(16)
        self.home_template = str(root / "home" / "{username}")
        self.runtime = root / "runtime"  # single-user servers write their PID files here
        self.log = root / "jupyterhub.log"
        self.proxy_pid_file = root / "proxy.pid"

    def config(self) -> str:
        env = {
            # The course's own caches go to this test's folder, never the real user's.
            "PY2PTX_CACHE": str(self.root / "py2ptx-cache"),
            "PY2PTX_RESULTS": "",  # the pulled tree's results/ (what a student sees)
            "JUPYTER_RUNTIME_DIR": str(self.runtime),
            "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter"),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            # The package travels with the notebooks (deploy/z2jh-values.yaml does the same).
            "PYTHONPATH": str(Path(self.home_template.format(username=STUDENT)) / "py2ptx"),
        }
        root_args = ["--allow-root"] if os.geteuid() == 0 else []
        return f"""
c = get_config()  # noqa
c.JupyterHub.bind_url = {self.url!r}
c.JupyterHub.hub_bind_url = "http://{LOOPBACK}:{free_port()}"
c.ConfigurableHTTPProxy.api_url = "http://{LOOPBACK}:{free_port()}"
c.ConfigurableHTTPProxy.command = [{http_proxy()!r}]
c.ConfigurableHTTPProxy.pid_file = {str(self.proxy_pid_file)!r}
c.JupyterHub.db_url = "sqlite:///{self.root / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = {str(self.root / 'cookie_secret')!r}
c.JupyterHub.pid_file = {str(self.root / 'jupyterhub.pid')!r}
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {self.home_template!r}
c.Spawner.ip = {LOOPBACK!r}
c.Spawner.cmd = [{str(VENV_BIN / 'jupyterhub-singleuser')!r}]
c.Spawner.args = {root_args!r}
c.Spawner.environment = {env!r}
c.Spawner.start_timeout = 40
c.Spawner.http_timeout = 40
c.JupyterHub.services = [{{"name": "course-test", "api_token": {self.admin_token!r}}}]
c.JupyterHub.load_roles = [{{"name": "course-test", "services": ["course-test"],
                             "scopes": ["admin:users", "admin:servers", "tokens"]}}]
"""

    def api(self, method: str, path: str, token: str, **kw) -> requests.Response:
        return requests.request(method, f"{self.url}/hub/api{path}", timeout=30,
                                headers={"Authorization": f"token {token}"}, **kw)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    hub = Hub(root)
    (root / "jupyterhub_config.py").write_text(hub.config())
    hub.runtime.mkdir()
    env = dict(os.environ, HOME=str(root), PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
    process = start([str(VENV_BIN / "jupyterhub"), "-f", "jupyterhub_config.py"], hub.log, root, env)
    try:
        wait_for(lambda: requests.get(f"{hub.url}/hub/api/", timeout=2).ok, "JupyterHub", 30,
                 process, hub.log)
        yield hub
    finally:
        stop(process)  # the hub stops the student servers and the proxy it started
        leftovers = jupyter_server_pids(hub.runtime)
        if hub.proxy_pid_file.exists():
            leftovers.append(int(hub.proxy_pid_file.read_text().strip() or 0))
        for pid in filter(None, leftovers):
            kill_pid(pid)


@pytest.fixture(scope="module")
def student(hub):
    """The student, logged in through the REST API: their own token and a running server."""
    assert hub.api("POST", f"/users/{STUDENT}", hub.admin_token).status_code == 201
    reply = hub.api("POST", f"/users/{STUDENT}/tokens", hub.admin_token,
                    json={"note": "course test", "expires_in": 600})
    assert reply.status_code == 201, reply.text
    token = reply.json()["token"]
    me = hub.api("GET", "/user", token).json()
    assert me["name"] == STUDENT
    spawn = hub.api("POST", f"/users/{STUDENT}/server", token)
    assert spawn.status_code in (201, 202), spawn.text

    def ready():
        server = hub.api("GET", f"/users/{STUDENT}", token).json()["servers"].get("", {})
        return server.get("ready") and server
    server = wait_for(ready, "the student's server", 45, log=hub.log)
    return Student(hub, token, hub.url + server["url"].rstrip("/"))


class Student:
    def __init__(self, hub: Hub, token: str, server: str):
        self.hub, self.token, self.server = hub, token, server
        self.headers = {"Authorization": f"token {token}"}
        self.home = Path(hub.home_template.format(username=STUDENT))

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(f"{self.server}{path}", headers=self.headers, timeout=60, **kw)

    def pull(self, repo: str, target: str) -> str:
        """What the nbgitpuller page's script does: the pull API, an event stream to 'finished'."""
        reply = self.get("/git-pull/api", params={"repo": repo, "branch": "student",
                                                  "targetpath": target}, stream=True)
        assert reply.ok, reply.text
        events = [json.loads(line[6:]) for line in reply.iter_lines(decode_unicode=True)
                  if line.startswith("data: ")]
        log = "\n".join(e.get("output", "") or e.get("message", "") for e in events)
        assert events and events[-1]["phase"] == "finished", f"nbgitpuller failed:\n{log}"
        return log

    def notebook(self, path: str) -> dict:
        reply = self.get(f"/api/contents/{path}")
        assert reply.ok, f"{path}: {reply.status_code} {reply.text[:300]}"
        return reply.json()

    def save(self, path: str, content: dict) -> None:
        reply = requests.put(f"{self.server}/api/contents/{path}", headers=self.headers, timeout=60,
                             json={"type": "notebook", "format": "json", "content": content})
        assert reply.ok, reply.text


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The instructor's course and the student branch the student-tree tool committed from it."""
    base = tmp_path_factory.mktemp("instructor")
    course = course_copy(base / "course")
    tree = base / "student-tree"
    student_tree.build(tree, source=course, commit=True)
    return course, tree


def run_notebook(student: Student, path: str, timeout: float = 120) -> list[dict]:
    """Execute every code cell of ``path`` through the server's session and kernel-channel APIs.

    Returns the cells, each with its outputs, in nbformat's shape. This is the path a
    browser takes: a session for the notebook (the kernel's working directory is the
    notebook's folder), then execute_request messages on the kernel's websocket.
    """
    cells = student.notebook(path)["content"]["cells"]
    reply = requests.post(f"{student.server}/api/sessions", headers=student.headers, timeout=60,
                          json={"path": path, "type": "notebook", "name": Path(path).name,
                                "kernel": {"name": "python3"}})
    assert reply.ok, reply.text
    kernel_id = reply.json()["kernel"]["id"]
    ws_url = student.server.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels"
    ws = websocket.create_connection(ws_url, header=[f"Authorization: token {student.token}"],
                                     timeout=timeout)
    session = uuid.uuid4().hex
    try:
        for cell in cells:
            if cell["cell_type"] != "code":
                continue
            cell["outputs"] = _execute(ws, session, cell["source"], timeout)
            errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
            assert not errors, f"cell failed:\n{cell['source']}\n" + "\n".join(errors[0]["traceback"])
    finally:
        ws.close()
        requests.delete(f"{student.server}/api/kernels/{kernel_id}", headers=student.headers,
                        timeout=30)
    return cells


def _execute(ws, session: str, code: str, timeout: float) -> list[dict]:
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session,
                   "username": STUDENT, "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}}))
    outputs, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id or msg["channel"] != "iopub":
            continue
        kind, content = msg["header"]["msg_type"], msg["content"]
        if kind == "status" and content["execution_state"] == "idle":
            return outputs
        if kind in ("stream", "display_data", "execute_result", "error"):
            outputs.append({"output_type": kind, **content})
    raise AssertionError(f"cell did not finish within {timeout} s:\n{code}")


def _keep(cells: list[dict], name: str) -> None:
    """Save the executed notebook in test-artifacts/ for a person to look at."""
    keys = {"stream": ("name", "text"), "display_data": ("data", "metadata"),
            "execute_result": ("data", "metadata", "execution_count"),
            "error": ("ename", "evalue", "traceback")}
    nb = nbformat.v4.new_notebook()
    for cell in cells:
        if cell["cell_type"] != "code":
            nb.cells.append(nbformat.v4.new_markdown_cell(cell["source"]))
            continue
        outputs = [nbformat.from_dict({"output_type": o["output_type"],
                                       **{k: o[k] for k in keys[o["output_type"]] if k in o}})
                   for o in cell["outputs"]]
        nb.cells.append(nbformat.v4.new_code_cell(cell["source"], outputs=outputs))
    ARTIFACTS.mkdir(exist_ok=True)
    nbformat.write(nb, ARTIFACTS / name)


def _text(outputs: list[dict]) -> str:
    parts = []
    for out in outputs:
        parts.append(out.get("text", ""))
        parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "".join(parts)


def test_student_pulls_the_course_and_runs_notebook_00(hub, student, published):
    _, tree = published
    repo = tree.as_uri()
    # The link the instructor hands out reaches the student's own nbgitpuller page.
    # The link the instructor hands out: the student logs in on the hub's page (any password
    # passes the DummyAuthenticator), and lands on their own server's nbgitpuller page.
    link = hub_link.link(hub.url, NOTEBOOK, repo, target="py2ptx", source=tree)
    assert "branch=student" in link
    browser = requests.Session()
    login = browser.get(link, timeout=30)
    assert "/hub/login" in login.url, login.url
    page = browser.post(login.url, timeout=60, data={
        "username": STUDENT, "password": "any", "_xsrf": browser.cookies.get("_xsrf", "")})
    assert page.ok and f"/user/{STUDENT}/git-pull?" in page.url, (page.status_code, page.url)
    assert "nbgitpuller" in page.text.lower() and "branch" in page.text

    student.pull(repo, "py2ptx")
    pulled = student.home / "py2ptx"
    assert (pulled / NOTEBOOK).is_file() and (pulled / LAB).is_file()
    assert not (pulled / "solutions").exists()

    cells = run_notebook(student, f"py2ptx/{NOTEBOOK}")
    _keep(cells, "hub-00-the-stack.ipynb")
    code = [c for c in cells if c["cell_type"] == "code"]
    everything = "".join(_text(c["outputs"]) for c in code)
    assert ".version" in everything and "ld.global" in everything, "no PTX in the outputs"
    assert "sm_75:" in everything and "sm_90:" in everything
    widget = [c for c in code if "stack_explorer" in c["source"]][0]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for o in widget["outputs"]), widget["outputs"]
    # The kernel imported the package that came with the notebooks, not another copy.
    where = run_cell(student, "import py2ptx; print(py2ptx.__file__)")
    assert where.strip() == str(pulled / "py2ptx" / "__init__.py")


def run_cell(student: Student, code: str) -> str:
    reply = requests.post(f"{student.server}/api/kernels", headers=student.headers, timeout=60,
                          json={"name": "python3"})
    assert reply.ok, reply.text
    kernel_id = reply.json()["id"]
    ws = websocket.create_connection(
        student.server.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels",
        header=[f"Authorization: token {student.token}"], timeout=60)
    try:
        return _text(_execute(ws, uuid.uuid4().hex, code, 60))
    finally:
        ws.close()
        requests.delete(f"{student.server}/api/kernels/{kernel_id}", headers=student.headers,
                        timeout=30)


def test_nothing_lost_when_the_instructor_updates(student, published):
    course, tree = published
    repo, target = tree.as_uri(), "py2ptx-term"
    student.pull(repo, target)

    # The student solves an exercise in the lab and saves (what JupyterLab's save does).
    path = f"{target}/{LAB}"
    lab = student.notebook(path)["content"]
    exercise = next(i for i, c in enumerate(lab["cells"])
                    if "def swaps_reversed" in c["source"])
    answer = "def swaps_reversed(n: int) -> int:\n    return n * (n - 1) // 2  # my answer"
    lab["cells"][exercise]["source"] = answer
    student.save(path, lab)

    # Mid-term, the instructor rewords the lab's first cell, adds a handout, and republishes.
    course_lab = json.loads((course / LAB).read_text())
    title = "# Lab 01 — Bubble sort, by hand (revised in week 3)"
    first = course_lab["cells"][0]
    first["source"] = title + "\n" + "".join(first["source"]).split("\n", 1)[1]
    (course / LAB).write_text(json.dumps(course_lab, indent=1, sort_keys=True) + "\n")
    (course / "labs" / "week-3-notes.md").write_text("# Week 3\n\nRead notebook 02 first.\n")
    git(course, "add", "-A")
    git(course, "commit", "-q", "-m", "week 3: reword lab 01, add notes")
    done = student_tree.build(tree, source=course, commit=True)
    assert "labs/week-3-notes.md" in done["files"]

    log = student.pull(repo, target)
    after = student.notebook(path)["content"]
    assert after["cells"][exercise]["source"] == answer, f"the student's edit was lost:\n{log}"
    assert after["cells"][0]["source"].startswith(title), f"the update did not arrive:\n{log}"
    notes = student.get(f"/api/contents/{target}/labs/week-3-notes.md")
    assert notes.ok and "Week 3" in notes.json()["content"]
