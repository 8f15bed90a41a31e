"""JupyterLab (make lab): serves notebooks/ on 127.0.0.1 with the project's kernel."""

from __future__ import annotations

import json
import os
import secrets
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
