"""qarepro.report.figures: every plot writes a PNG; the headline figure is over seeds."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from qarepro import report  # noqa: E402
from tests.helpers import paired_runs as _paired_runs, seed_runs as _seed_runs, reproduced_metrics as _reproduced, toy_scoring_case as _toy


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


def test_plots_write_pngs(tmp_path):
    import matplotlib.pyplot as plt

    table = report.compare_all({"bert-medium-squad2-distilled": _reproduced()})
    runs = pd.DataFrame([
        {"card": "c", "factor": f, "value": v, "seed": s, "f1": 50 + i, "center": v == 1}
        for i, (f, v, s) in enumerate([("temperature", 1, 42), ("temperature", 5, 42), ("weight", 0, 42),
                                       ("weight", 1, 42), ("loss", "hf", 42), ("loss", "haystack", 42),
                                       ("seed", 42, 42), ("seed", 43, 43)])])
    gold, preds, na = _toy()
    figures = {
        "claimed": lambda p: report.plot_claimed_vs_reproduced(table, path=p),
        "claimed_em": lambda p: report.plot_claimed_vs_reproduced(table, metric="exact", path=p),
        "hasans": lambda p: report.plot_hasans_noans(
            {"m": {"f1": 50, "HasAns_f1": 40, "NoAns_f1": 60, "NoAns_total": 5}, "n": {"metrics": {"f1": 1}}}, path=p),
        "threshold": lambda p: report.plot_threshold_curves({"m": report.threshold_curve(gold, preds, na)}, path=p),
        "ablations": lambda p: report.plot_ablations(runs, path=p),
        "speed": lambda p: report.plot_speed(pd.DataFrame(
            [{"model": "teacher", "samples_per_s": 10.0, "latency_ms": 80.0},
             {"model": "student", "samples_per_s": 40.0, "latency_ms": 20.0}]), path=p),
        "training": lambda p: report.plot_training_curves({"r": pd.DataFrame({"step": [1, 2], "loss": [2.0, 1.0]})}, path=p),
        "counts": lambda p: report.plot_dataset_counts(pd.DataFrame(
            [{"dataset": "a", "answerable": 3, "unanswerable": 1}]), path=p),
    }
    for name, make in figures.items():
        path = tmp_path / f"{name}.png"
        fig = make(path)
        assert _is_png(path), name
        plt.close(fig)


def test_no_figure_for_what_the_data_cannot_have_and_no_placeholders(tmp_path):
    """No NoAns figure on a set without unanswerable questions, no threshold curve of one point, and
    no blank "no runs" panels: the functions return None and write nothing (the report says why)."""
    gold, preds, na = _toy()
    empty = pd.DataFrame(columns=["card", "factor", "value", "seed", "f1", "center", "dataset"])
    none = {
        "hasans": report.plot_hasans_noans({"m": {"f1": 50, "HasAns_f1": 50, "HasAns_total": 9}}, path=tmp_path / "1.png"),
        "threshold": report.plot_threshold_curves({"m": pd.DataFrame({"threshold": [0.5], "f1": [3.0]})},
                                                  path=tmp_path / "2.png"),
        "ablations": report.plot_ablations(empty, path=tmp_path / "3.png"),
        "training": report.plot_training_curves({"r": pd.DataFrame()}, path=tmp_path / "4.png"),
        "headline": report.plot_headline(empty, path=tmp_path / "5.png"),
        "gain_by": report.plot_gain_by(report.paired_gain_summary(empty, "train_size"), dataset="d",
                                       path=tmp_path / "6.png"),
    }
    assert none == dict.fromkeys(none) and not list(tmp_path.iterdir())


def test_headline_figure_and_ablation_bars_are_over_seeds(tmp_path):
    import matplotlib.pyplot as plt

    runs = _seed_runs()
    fig = report.plot_headline(runs, {"d1": {"f1": 70.0}, "d2": {"f1": 75.0}}, path=tmp_path / "h.png")
    assert _is_png(tmp_path / "h.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "teacher (one run)"
    assert "sd over those seeds" in " ".join(t.get_text() for t in ax.texts)
    plt.close(fig)
    grid = runs + [{"card": runs[0]["card"], "dataset": ds, "factor": "temperature", "value": 1.0, "seed": s,
                    "f1": f, "center": False} for ds, s, f in (("d1", 42, 50.0), ("d2", 42, 60.0), ("d1", 43, 52.0), ("d2", 43, 62.0))]
    fig = report.plot_ablations(pd.DataFrame(grid), path=tmp_path / "a.png")
    (line,) = [c for c in fig.axes[0].containers]  # one errorbar container
    # the point is the mean over seeds of each seed's mean over datasets: (55 + 57) / 2
    assert math.isclose(line.lines[0].get_ydata()[0], 56.0)
    assert "sd over" in " ".join(t.get_text() for t in fig.texts)
    plt.close(fig)


def test_gain_by_training_size_draws_the_seed_interval_each_seed_and_the_claims(tmp_path):
    import matplotlib.pyplot as plt

    paired = report.paired_gain_summary(_paired_runs(), "train_size")
    fig = report.plot_gain_by(paired, dataset="d1", claimed=report.claimed_gains(), path=tmp_path / "g.png")
    assert _is_png(tmp_path / "g.png")
    ax = fig.axes[0]
    (bars,) = ax.containers
    assert list(bars.lines[0].get_xdata()) == [1000.0, 4000.0]
    assert list(bars.lines[0].get_ydata()) == pytest.approx([4.0, 1.05])
    # the error bar is the 95% t-interval over the two seeds, not one sd
    (segments,) = [c for c in bars.lines[2]]
    low, high = segments.get_segments()[0][:, 1]
    assert high - low == pytest.approx(2 * 12.706 * math.sqrt(2) / math.sqrt(2))
    dots = [c for c in ax.collections if c.get_offsets().shape[0] == 2]
    assert sorted(dots[0].get_offsets()[:, 1]) == [3.0, 5.0]
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "+1.3" in legend and "95% t-interval" in legend
    assert "+3.2" not in legend  # the bert card's claim: no bert card line is drawn here
    plt.close(fig)
    empty = report.plot_gain_by(paired.iloc[0:0], dataset="d1")
    assert empty is None  # no paired runs: no figure
    plt.close(empty)
