"""A JupyterLab smoke test: the server started here on 127.0.0.1 with a token, 01_generate_data opened in
headless Debian Chromium, every cell run with the "Python 3 (bwkit)" kernel, no error (nor anything on stderr);
and a notebook saved through JupyterLab into the repository, which git's filter keeps clean.

The notebook run is a copy in a temporary folder, so nothing JupyterLab saves there touches the repository.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from bwkit.runs.paths import NOTEBOOKS

from conftest import CHROMIUM, CHROMIUM_FLAGS as FLAGS

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed")
TOKEN = "bwkit-smoke-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One JupyterLab server for the module, its root the file system's, so that it opens a copy in a temporary
    folder and the repository's own notebooks alike: (its URL, the API path of a local path). What Jupyter keeps of
    its own (settings, workspaces, notebook signatures, runtime files, IPython's profile, checkpoints of saved
    files) goes to a temporary folder: nothing reaches the user's home or the repository but the file saved."""
    own = tmp_path_factory.mktemp("jupyter")
    env = {**os.environ, **{name: str(own / name.lower()) for name in
                            ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR")}}
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                               f"--IdentityProvider.token={TOKEN}", "--allow-root", "--ServerApp.root_dir=/",
                               "--ContentsManager.allow_hidden=True",   # a checkout or temp folder under a dot-folder
                               f"--FileCheckpoints.checkpoint_dir={own / 'checkpoints'}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "JupyterLab did not start"
                time.sleep(0.3)
        yield url, lambda path: urllib.parse.quote(str(Path(path).resolve()).lstrip("/"))
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_jupyterlab_runs_a_notebook_with_the_kits_kernel_and_no_error(lab, tmp_path):
    lab, api_path = lab
    shutil.copy(NOTEBOOKS / "01_generate_data.ipynb", tmp_path)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(lab) else r.abort())
        page.goto(f"{lab}/lab/tree/{api_path(tmp_path / '01_generate_data.ipynb')}?token={TOKEN}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        page.wait_for_selector("text=Python 3 (bwkit)", timeout=60_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
        page.click(".lm-MenuBar-itemLabel:text-is('Run')")
        page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
        code_cells = page.eval_on_selector_all(".jp-CodeCell", "els => els.length")
        page.wait_for_function(f"""() => document.querySelector("[data-mime-type='application/vnd.jupyter.stderr']")
            || [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                 .filter(e => /\\[\\d+\\]/.test(e.innerText)).length === {code_cells}""", timeout=120_000)
        errors = page.eval_on_selector_all("[data-mime-type='application/vnd.jupyter.stderr']", "els => els.length")
        assert errors == 0
        assert page.eval_on_selector_all(".jp-OutputArea-output img", "els => els.length") >= 1   # the plot
        browser.close()


def test_a_notebook_saved_with_outputs_through_jupyterlab_leaves_the_tree_clean_to_the_record(request):
    """JupyterLab's contents API saves 02_train with an output in the repository itself; git's filter strips it,
    so the record's `dirty` (git after the filter, stat cache refreshed) stays false. The file is restored."""
    import json

    from bwkit.runs.env import tree_dirty

    if tree_dirty() is not False:
        pytest.skip("the working tree has changes of its own: nothing to learn about the filter here")
    lab, api_path = request.getfixturevalue("lab")   # started once the test is sure to run
    path = NOTEBOOKS / "02_train.ipynb"
    original = path.read_bytes()
    url = f"{lab}/api/contents/{api_path(path)}?token={TOKEN}"
    try:
        model = json.loads(urllib.request.urlopen(url, timeout=30).read())
        code = next(c for c in model["content"]["cells"] if c["cell_type"] == "code")
        code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "saved from JupyterLab\n"}]
        code["execution_count"] = 7
        body = json.dumps({"type": "notebook", "format": "json", "content": model["content"]}).encode()
        request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=30).read()
        assert b"saved from JupyterLab" in path.read_bytes()   # the file itself carries the output
        assert tree_dirty() is False
    finally:
        path.write_bytes(original)
        subprocess.run(["git", "-C", str(NOTEBOOKS.parent), "update-index", "-q", "--refresh"], check=False)
