#!/usr/bin/env python3
"""Screenshot of a notebook open in JupyterLab (docs/img/jupyterlab.png): starts JupyterLab on
127.0.0.1 without a browser, opens the notebook in headless Chromium, saves the picture, stops
the server.   python scripts/lab_screenshot.py [NOTEBOOK] [OUT.png]
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from check_reports import Browser, find_browser  # noqa: E402

from qarepro import pipeline  # noqa: E402


@contextlib.contextmanager
def serve_lab(notebook_dir: Path, env: dict | None = None):
    """JupyterLab on a free 127.0.0.1 port serving `notebook_dir`, its state in a temp folder, until
    the block ends; yields (port, token). `env`: extra environment for the server and its kernels."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    tmp = tempfile.mkdtemp(prefix="qarepro-lab-")
    full = {**os.environ, "JUPYTER_RUNTIME_DIR": f"{tmp}/runtime", "JUPYTER_CONFIG_DIR": f"{tmp}/config",
            "JUPYTER_DATA_DIR": f"{tmp}/data", **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--notebook-dir={notebook_dir}",
                             "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
                             "--allow-root", f"--IdentityProvider.token={token}",
                             "--MappingKernelManager.default_kernel_name=python3"],
                            env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield port, token
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    notebook = argv[0] if argv else "05_ablations.ipynb"
    out = Path(argv[1] if len(argv) > 1 else ROOT / "docs" / "img" / "jupyterlab.png")
    pipeline.ensure_kernel()
    browser = None
    with serve_lab(ROOT / "notebooks") as (port, token):
        try:
            browser = Browser(find_browser(), width=1400)
            browser.open(f"http://127.0.0.1:{port}/lab/tree/{notebook}?token={token}")
            # the page builds itself after load: wait until the notebook's cells are drawn
            while not browser.evaluate("document.querySelectorAll('.jp-Notebook .jp-Cell').length > 3"):
                time.sleep(0.5)
            time.sleep(2)
            browser.call("Emulation.setDeviceMetricsOverride", {"width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": False})
            shot = browser.call("Page.captureScreenshot", {"format": "png"})
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(base64.b64decode(shot["data"]))
            print(f"screenshot {out}")
        finally:
            if browser:
                browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
