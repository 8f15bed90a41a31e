"""JupyterLab (make lab): serves notebooks/ on 127.0.0.1 with the project's kernel."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from qarepro import paths, pipeline


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 directly, never a proxy


def _get(url: str):
    with _LOCAL.open(url) as r:
        return json.loads(r.read())


@pytest.mark.slow
def test_jupyterlab_serves_the_notebooks_and_the_project_kernel(tmp_path):
    pipeline.ensure_kernel()  # what make lab runs first
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data"), pipeline.PROFILE_ENV: "smoke"}
    env["JUPYTER_PATH"] = os.pathsep.join([str(paths.ROOT / ".venv" / "share" / "jupyter"), os.environ.get("JUPYTER_PATH", "")])
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--notebook-dir={paths.NOTEBOOKS}",
                             "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--allow-root",
                             f"--IdentityProvider.token={token}", "--MappingKernelManager.default_kernel_name=python3"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        seen = []
        for line in proc.stderr:  # the server logs "Use Control-C to stop" once it listens
            seen.append(line)
            if "Control-C" in line:
                break
        # it logs that line just before it listens: wait for the port, as long as the server lives
        while proc.poll() is None:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        assert proc.poll() is None, "JupyterLab exited:\n" + "".join(seen[-20:])
        contents = _get(f"{base}/api/contents?token={token}")
        names = sorted(c["name"] for c in contents["content"] if c["type"] == "notebook")
        assert names == sorted(f"{s}.ipynb" for s in pipeline.STAGES)
        nb = _get(f"{base}/api/contents/05_ablations.ipynb?token={token}")
        assert nb["content"]["metadata"]["kernelspec"]["name"] == "python3"
        specs = _get(f"{base}/api/kernelspecs?token={token}")
        assert specs["default"] == "python3"
        argv = specs["kernelspecs"]["python3"]["spec"]["argv"]
        assert os.path.realpath(argv[0]) == os.path.realpath(sys.executable)  # the project's interpreter
        lab = _LOCAL.open(f"{base}/lab?token={token}").read().decode()
        assert "JupyterLab" in lab
        with pytest.raises(urllib.error.HTTPError):
            _LOCAL.open(f"{base}/api/contents")  # no token, no access
    finally:
        proc.terminate()
        proc.wait()
    assert proc.returncode is not None


def test_the_notebook_parameter_wins_and_the_environment_fills_only_none(monkeypatch):
    monkeypatch.setenv(pipeline.PROFILE_ENV, "pocket-cpu")
    monkeypatch.delenv(pipeline.STAGE_OUTPUT_ENV, raising=False)
    assert pipeline.start("06_report", "smoke").profile.name == "smoke"      # typed in the notebook: wins
    assert pipeline.start("06_report", None).profile.name == "pocket-cpu"    # not set: the environment's
    monkeypatch.delenv(pipeline.PROFILE_ENV)
    assert pipeline.start("06_report", None).profile.name == "smoke"         # neither: the default


def test_a_notebook_run_by_hand_writes_to_the_scratch_folder(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(paths.OUTPUTS_ENV, str(tmp_path))
    monkeypatch.delenv(pipeline.STAGE_OUTPUT_ENV, raising=False)
    monkeypatch.setattr(pipeline.stage, "run_by_hand", lambda: True)
    made = pipeline.target("smoke", "01_data_prep")
    made.parent.mkdir(parents=True)
    made.write_text('{"stage": "01_data_prep", "from": "make"}')
    stage = pipeline.start("02_teachers", "smoke")
    said = capsys.readouterr().out
    assert said.startswith("Run by hand: profile smoke (from the notebook's parameter)") and "outputs/lab/smoke/" in said
    assert str(tmp_path) not in said                                          # no machine path
    assert stage.target == tmp_path / "lab" / "smoke" / "02_teachers.json"
    assert stage.figure("x").is_relative_to(tmp_path / "lab" / "smoke")
    assert stage.previous("01_data_prep")["from"] == "make"                  # not run by hand yet: make's record
    (tmp_path / "lab" / "smoke").mkdir(parents=True)
    (tmp_path / "lab" / "smoke" / "01_data_prep.json").write_text('{"stage": "01_data_prep", "from": "lab"}')
    assert stage.previous("01_data_prep")["from"] == "lab"                   # run by hand: that one
    pipeline.finish(stage, {"x": 1})
    assert stage.target.is_file() and not pipeline.target("smoke", "02_teachers").exists()


def test_under_the_runner_a_notebook_is_not_run_by_hand(monkeypatch):
    monkeypatch.setenv(pipeline.STAGE_OUTPUT_ENV, "staged.json")
    assert not pipeline.stage.run_by_hand()
    monkeypatch.delenv(pipeline.STAGE_OUTPUT_ENV)
    assert not pipeline.stage.run_by_hand()  # plain Python (this test), no Jupyter kernel


NOTEBOOK = "01_data_prep.ipynb"   # the cheapest stage: the smoke profile reads the fixture sample in seconds


def _browser_or_skip():
    sys.path.insert(0, str(paths.ROOT / "scripts"))
    import check_reports  # deferred: the scripts' modules, only for the browser test
    import lab_screenshot

    if not any(shutil.which(b) for b in check_reports.BROWSERS):
        pytest.skip("no Chromium on this machine (Debian: apt-get install -y chromium): the lab is checked in a real browser")
    return check_reports, lab_screenshot


def _wait(browser, js: str, what: str, timeout: float = 180.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = browser.evaluate(js)
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"JupyterLab: timed out waiting for {what}")


def _key(browser, key: str, code: str, vk: int, modifiers: int = 0) -> None:
    for kind in ("rawKeyDown", "keyUp"):
        browser.call("Input.dispatchKeyEvent", {"type": kind, "key": key, "code": code, "windowsVirtualKeyCode": vk,
                                                "modifiers": modifiers})


def _click(browser, selector: str) -> None:
    box = browser.evaluate(f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                           f" return [r.x + r.width / 2, r.y + r.height / 2]; }})()")
    for kind in ("mousePressed", "mouseReleased"):
        browser.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1})


@pytest.mark.slow
def test_in_jupyterlab_the_typed_profile_wins_and_a_run_by_hand_leaves_make_targets_alone(tmp_path):
    """Headless Chromium drives JupyterLab on 127.0.0.1: open 01_data_prep, type a profile into its
    parameters cell (the environment says another), run every cell; the notebook reports the typed
    profile, writes only to outputs/lab/<profile>/, and make's target is byte for byte as it was."""
    check_reports, lab_screenshot = _browser_or_skip()
    pipeline.ensure_kernel()
    outputs, served = tmp_path / "outputs", tmp_path / "notebooks"
    served.mkdir()
    shutil.copy(paths.NOTEBOOKS / NOTEBOOK, served / NOTEBOOK)  # edits in the browser never reach the checkout
    made = outputs / "smoke" / "01_data_prep.json"                # make's target, as a finished run left it
    made.parent.mkdir(parents=True)
    made.write_text('{"stage": "01_data_prep", "from": "make"}')
    before = (made.read_bytes(), made.stat().st_mtime_ns)
    env = {paths.OUTPUTS_ENV: str(outputs),
           pipeline.PROFILE_ENV: "pocket-cpu",   # the environment's default: the typed profile must win
           pipeline.STAGE_OUTPUT_ENV: "",         # not the runner
           "PYTHONPATH": os.pathsep.join(filter(None, [str(paths.ROOT), os.environ.get("PYTHONPATH")])),
           "JUPYTER_PATH": os.pathsep.join([str(paths.ROOT / ".venv" / "share" / "jupyter"), os.environ.get("JUPYTER_PATH", "")])}
    with lab_screenshot.serve_lab(served, env) as (port, token):
        browser = check_reports.Browser(check_reports.find_browser(), width=1400)
        try:
            browser.open(f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}")
            _wait(browser, "document.querySelectorAll('.jp-Notebook .jp-Cell').length > 3", "the notebook's cells")
            _wait(browser, "document.body.innerText.includes('Idle')", "the kernel")
            params = ".jp-Notebook .jp-Cell:nth-child(2) .cm-content"
            _click(browser, params)
            _key(browser, "a", "KeyA", 65, modifiers=2)  # Ctrl+A in the editor: the whole cell
            browser.call("Input.insertText", {"text": 'profile = "smoke"\nrerender = False'})
            typed = browser.evaluate(f"document.querySelector({json.dumps(params)}).innerText")
            assert 'profile = "smoke"' in typed
            _key(browser, "Escape", "Escape", 27)
            _click(browser, ".jp-Notebook .jp-Cell:nth-child(1)")
            cells = browser.evaluate("document.querySelectorAll('.jp-Notebook .jp-CodeCell').length")
            for _ in range(browser.evaluate("document.querySelectorAll('.jp-Notebook .jp-Cell').length")):
                _key(browser, "Enter", "Enter", 13, modifiers=8)  # Shift+Enter: run the cell, go to the next
                time.sleep(0.2)
            done = ("[...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]"
                    f".filter(p => /\\[\\d+\\]/.test(p.innerText)).length >= {cells}")
            _wait(browser, done, "every cell to run")
            _wait(browser, "document.body.innerText.includes('metrics JSON')", "the last cell's output")
            text = browser.evaluate("document.querySelector('.jp-Notebook').innerText")
            shot = browser.call("Page.captureScreenshot", {"format": "png"})
            (tmp_path / "lab.png").write_bytes(base64.b64decode(shot["data"]))
        finally:
            browser.close()

    first = text.split("Run by hand:", 1)
    assert len(first) == 2 and first[1].lstrip().startswith("profile smoke (from the notebook's parameter)"), text[:2000]
    assert "Profile smoke" in text.replace("\n", " ") and "Profile pocket-cpu" not in text.replace("\n", " ")
    assert "Error" not in text and str(tmp_path) not in text, text[-2000:]
    assert (made.read_bytes(), made.stat().st_mtime_ns) == before          # make's target untouched
    assert (outputs / "lab" / "smoke" / "01_data_prep.json").is_file()      # the hand run's record: the scratch folder
    assert not (outputs / "smoke" / "figures").exists()                    # nothing else under make's folder
    out_shot = os.environ.get("QAREPRO_LAB_SHOT")
    if out_shot:
        shutil.copy(tmp_path / "lab.png", out_shot)
