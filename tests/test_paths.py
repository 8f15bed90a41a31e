"""Portable records (qarepro.paths): no absolute path of this machine in what is committed."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from qarepro import paths


def test_portable_makes_paths_relative_and_resolve_brings_them_back(tmp_path, monkeypatch):
    out = tmp_path / "elsewhere"
    monkeypatch.setenv(paths.OUTPUTS_ENV, str(out))
    record = {"model": str(out / "runs" / "p" / "model"), "config": str(paths.CONFIGS / "x.yaml"),
              "note": f"see {paths.ROOT}/configs/profiles/smoke.yaml)", "root": str(paths.ROOT),
              "other": str(paths.ROOT) + "-sibling/file", "hub": "deepset/roberta-base-squad2", "n": 3,
              "list": [str(out / "a")]}
    p = paths.portable(record)
    assert p["model"] == "outputs/runs/p/model" and p["config"] == "configs/x.yaml"
    assert p["note"] == "see configs/profiles/smoke.yaml)" and p["root"] == "."
    # a folder that only starts with the same letters is not the root (a checkout inside the
    # temporary folder, as CI's may be, still has its temporary prefix named)
    tmp = tempfile.gettempdir()
    assert p["other"] in (record["other"], paths.TMP_TOKEN + record["other"][len(tmp):])
    assert p["hub"] == record["hub"] and p["n"] == 3 and p["list"] == ["outputs/a"]
    back = paths.resolve(p)
    assert back["model"] == record["model"] and back["config"] == record["config"] and back["hub"] == record["hub"]


def test_temp_and_home_folders_become_tokens():
    tmp = Path(tempfile.gettempdir()) / "run-1" / "predictions.json"
    assert paths.portable_text(str(tmp)) == "<tmp>/run-1/predictions.json"
    assert paths.portable_text(str(Path.home() / "data.json")).startswith("~")


def test_html_images_are_left_alone():
    folder = str(Path(tempfile.gettempdir()))
    img = "data:image/png;base64,AAAA" + folder + "/BBBB=="
    page = f"<p>{folder}/x.json</p><img src='{img}'/>"
    out = paths.portable_html(page)
    assert "<p><tmp>/x.json</p>" in out and img in out


def test_committed_results_and_docs_hold_no_machine_path():
    """Every tracked file under outputs/ and docs/ (JSON, Markdown, HTML) is free of the
    checkout's absolute path and of home and temp folders."""
    tracked = subprocess.run(["git", "ls-files", "outputs", "docs"], cwd=paths.ROOT, capture_output=True,
                             text=True, check=False).stdout.split()
    if not tracked:  # not a git checkout (an sdist): nothing committed to check
        return
    pattern = re.compile("|".join([re.escape(str(paths.ROOT)) + r"(?![\w.-])",
                                   r"(?<![\w.:/<~$])/(?:home|root|tmp|Users|var/folders|work)/[\w.-]+"]))
    bad = []
    for name in tracked:
        f = paths.ROOT / name
        if f.suffix not in (".json", ".md", ".html") or not f.is_file():
            continue
        text = f.read_text(encoding="utf-8")
        if f.suffix == ".html":
            text = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+", "", text)
        m = pattern.search(text)
        if m:
            bad.append(f"{name}: {text[m.start():m.start() + 60]!r}")
    assert not bad, "absolute machine paths in committed files:\n" + "\n".join(bad[:20])
