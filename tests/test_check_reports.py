"""scripts/check_reports.py on small bad pages: each class of problem found in the reports (a
missing value printed as None, a row listed twice, a placeholder figure, a cut cell, the pandas
index, two reports giving one claim different verdicts) fails, and a clean page passes.

Needs headless Chromium (Debian: `apt-get install -y chromium`); skipped, saying so, without it.
"""

from __future__ import annotations

import base64
import io
import shutil
import sys

import pytest

from qarepro import paths

sys.path.insert(0, str(paths.ROOT / "scripts"))
import check_reports  # noqa: E402

pytestmark = pytest.mark.skipif(
    not any(shutil.which(b) for b in check_reports.BROWSERS),
    reason="no Chromium on this machine (Debian: apt-get install -y chromium); the report checks drive a real browser")


@pytest.fixture(scope="module")
def browser():
    b = check_reports.Browser(check_reports.find_browser())
    yield b
    b.close()


def _table(head, rows, index=False) -> str:
    th = "".join(f"<th>{h}</th>" for h in ([""] if index else []) + head)
    body = "".join("<tr>" + (f"<th>{i}</th>" if index else "") + "".join(f"<td>{c}</td>" for c in r) + "</tr>"
                   for i, r in enumerate(rows))
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _png(draw) -> str:
    import matplotlib  # deferred: only the figure pages need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    draw(ax)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _page(tmp_path, name, body):
    p = tmp_path / name
    p.write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
    return p


def _placeholder(ax):
    ax.text(0.5, 0.5, "no ablation runs", ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def _chart(ax):
    ax.bar(range(6), [3, 5, 2, 6, 4, 5], color="#4c72b0")


def test_a_clean_page_passes(browser, tmp_path):
    page = _page(tmp_path, "ok.html", _table(["model", "F1 (%)"], [["teacher", "51.07"], ["student", "11.12"]])
                 + _png(_chart))
    assert check_reports.check(browser, page) == {}


@pytest.mark.parametrize("kind, body", [
    ("none", _table(["model", "NoAns F1"], [["teacher", "None"], ["student", "12.00"]])),
    ("duplicate", _table(["card", "fact", "claimed", "used"],
                         [["roberta", "max_seq_len", "384", "192"], ["bert", "max_seq_len", "384", "192"]])),
    ("cut", _table(["dataset", "source"], [["squad-train", "hub rajpurkar/squad@main (config pla..."]])),
    ("index", _table(["model", "F1"], [["teacher", "51.07"], ["student", "11.12"]], index=True)),
])
def test_each_bad_table_fails(browser, tmp_path, kind, body):
    found = check_reports.check(browser, _page(tmp_path, f"{kind}.html", body))
    assert set(found) == {kind}, found


def test_a_placeholder_figure_fails(browser, tmp_path):
    found = check_reports.check(browser, _page(tmp_path, "fig.html", _png(_placeholder)))
    assert list(found) == ["figure"] and "ink" in found["figure"][0]


def test_two_reports_giving_one_claim_different_verdicts_fail(browser, tmp_path):
    head = ["card", "claim", "dataset", "metric", "claimed", "distilled"]
    a = _table(head, [["roberta", "model-index/squad", "squad", "f1", "92.48", "11.12 (-81.36) outside"]])
    b = _table(head, [["roberta", "model-index/squad", "squad", "f1", "92.48", "11.12 · not comparable"]])
    long = _table(["card", "claim", "model", "metric", "verdict"], [["roberta", "model-index/squad", "distilled", "f1",
                                                                    "not comparable"]])
    found = {name: check_reports.check(browser, _page(tmp_path, name, body)).pop("verdicts", [])
             for name, body in (("04.html", a), ("06.html", b), ("06.full.html", long))}
    across = check_reports.contradictions(found)
    assert list(across) == ["06.html", "06.full.html"]
    assert "'not comparable' here, 'outside' in 04.html" in across["06.html"][0]
    assert check_reports.contradictions({"06.html": found["06.html"], "06.full.html": found["06.full.html"]}) == {}
