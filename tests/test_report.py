"""Claims files, claimed-vs-reproduced comparison, verdicts, plots and HTML rendering."""

from __future__ import annotations

import base64
import dataclasses
import math

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from qarepro import claims as qclaims  # noqa: E402
from qarepro import paths, report  # noqa: E402
from qarepro.config import ConfigError  # noqa: E402

CARDS = ("roberta-base-squad2-distilled", "bert-medium-squad2-distilled")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# The headline numbers of both cards, as a guard against accidental edits of the claims files
# (the full set is checked for completeness and consistency below).
EXPECTED = {
    ("roberta-base-squad2-distilled", "model-index/squad_v2"): {"exact": 80.8593, "f1": 84.0104},
    ("roberta-base-squad2-distilled", "model-index/squad"): {"exact": 86.225, "f1": 92.483},
    ("roberta-base-squad2-distilled", "model-index/adversarial_qa"): {"exact": 29.900, "f1": 41.183},
    ("roberta-base-squad2-distilled", "model-index/squad_adversarial-AddOneSent"): {"exact": 79.071, "f1": 84.472},
    ("roberta-base-squad2-distilled", "model-index/squadshifts-amazon"): {"exact": 70.733, "f1": 83.958},
    ("roberta-base-squad2-distilled", "model-index/squadshifts-new_wiki"): {"exact": 82.011, "f1": 91.092},
    ("roberta-base-squad2-distilled", "model-index/squadshifts-nyt"): {"exact": 84.203, "f1": 91.521},
    ("roberta-base-squad2-distilled", "model-index/squadshifts-reddit"): {"exact": 72.029, "f1": 83.454},
    ("roberta-base-squad2-distilled", "performance"): {"exact": 79.8366040596311, "f1": 83.916407079888},
    ("roberta-base-squad2-distilled", "guide/base"): {"f1": 82.6},
    ("roberta-base-squad2-distilled", "guide/teacher"): {"f1": 87.9},
    ("roberta-base-squad2-distilled", "guide/distilled"): {"f1": 83.9},
    ("bert-medium-squad2-distilled", "model-index/squad_v2"): {"exact": 69.8231, "f1": 72.9232},
    ("bert-medium-squad2-distilled", "performance"): {"exact": 68.6431398972458, "f1": 72.7637083790805},
    ("bert-medium-squad2-distilled", "guide/base"): {"f1": 69.6},
    ("bert-medium-squad2-distilled", "guide/teacher"): {"f1": 83.2},
    ("bert-medium-squad2-distilled", "guide/distilled"): {"f1": 72.8},
}


# --------------------------------------------------------------------------------------------
# Claims files


def test_every_card_has_a_claims_file_and_nothing_else():
    assert sorted(qclaims.load_all()) == sorted(CARDS)


@pytest.mark.parametrize("card", CARDS)
def test_claims_are_complete_and_well_formed(card):
    from qarepro.data import REGISTRY

    c = qclaims.load_claims(card)
    assert c.card == card and c.model == f"deepset/{card}"
    ids = {s.id for s in c.scores}
    # the card's own Performance block and the guide's three numbers
    assert {"performance", "guide/base", "guide/teacher", "guide/distilled"} <= ids
    # the hub-verified row of the primary dataset
    primary = [s for s in c.scores if s.source == "model-index" and s.dataset == c.primary_dataset]
    assert len(primary) == 1 and primary[0].verified and primary[0].exact and primary[0].f1
    for s in c.scores:
        assert s.dataset in REGISTRY, s.dataset
        if s.source == "model-index":
            assert s.hub and set(s.hub) == {"name", "type", "config", "split"}
    # the claim the ablations test: distilled beats the same student trained without distillation
    (gain,) = c.gains
    assert math.isclose(gain.value, c.score("guide/distilled").f1 - c.score("guide/base").f1, abs_tol=0.051)
    assert 0 < c.tolerance.published <= c.tolerance.retrained


def test_roberta_card_names_eight_datasets_in_its_model_index():
    c = qclaims.load_claims("roberta-base-squad2-distilled")
    rows = [s for s in c.scores if s.source == "model-index"]
    assert len(rows) == 8 and len({s.dataset for s in rows}) == 8
    assert [s.verified for s in rows].count(True) == 1


@pytest.mark.parametrize("key, numbers", EXPECTED.items(), ids=lambda v: "/".join(v) if isinstance(v, tuple) else "")
def test_headline_numbers(key, numbers):
    card, claim_id = key
    assert qclaims.load_claims(card).score(claim_id).metrics() == numbers


@pytest.mark.parametrize("card", CARDS)
def test_card_facts_agree_with_the_card_config(card):
    """Every training fact with a config key equals the card's own distillation config."""
    from qarepro.distill import DistillConfig, load_distill_config

    c = qclaims.load_claims(card)
    cfg = dataclasses.asdict(load_distill_config(card))
    names = {f.name for f in dataclasses.fields(DistillConfig)}
    keyed = [f for f in c.facts if f.config_key]
    assert {f.key for f in keyed} >= {"batch_size", "n_epochs", "learning_rate", "temperature",
                                      "distillation_loss_weight", "max_seq_len", "teacher"}
    for f in keyed:
        assert f.config_key in names
    table = report.compare_facts(c, cfg)
    assert set(table.loc[table["fact"].isin([f.key for f in keyed]), "status"]) == {"same"}


BASE = """card: x
model: deepset/x
card_url: https://example.org
teacher: t
student_init: s
primary_dataset: squad_v2-validation
metric_scale: percent
scores:
  - {id: model-index/squad_v2, source: model-index, subject: distilled, dataset: squad_v2-validation,
     hub: {name: squad_v2, type: squad_v2, config: squad_v2, split: validation}, exact: 80, f1: 84, verified: true}
  - {id: guide/base, source: guide, subject: base, dataset: squad_v2-validation, f1: 82, verified: false}
"""


@pytest.mark.parametrize("extra, message", [
    ("colour: red\n", "unknown key(s) 'colour'"),
    ("gains:\n  - {id: g, source: guide, dataset: squad_v2-validation, metric: f1, value: 2, of: model-index/squad_v2, over: nope}\n",
     "unknown score id 'nope'"),
    ("gains:\n  - {id: g, source: guide, dataset: squad_v2-validation, metric: f1, value: 5, of: model-index/squad_v2, over: guide/base}\n",
     "is not model-index/squad_v2 - guide/base"),
    ("tolerance: {published: fast}\n", "expected a number"),
])
def test_malformed_claims_are_rejected_naming_file_and_key(tmp_path, extra, message):
    p = tmp_path / "x.yaml"
    p.write_text(BASE + extra)
    with pytest.raises(ConfigError) as err:
        qclaims.load_claims(p)
    assert message in str(err.value) and "x.yaml" in str(err.value)


@pytest.mark.parametrize("old, new, message", [
    ("exact: 80, f1: 84, verified: true", "verified: true", "needs exact and/or f1"),
    ("f1: 82, verified: false", "f1: 820, verified: false", "not a percentage"),
    ("subject: base", "subject: baseline", "'baseline' is not one of"),
    ("    hub: {name: squad_v2, type: squad_v2, config: squad_v2, split: validation}, ", "    ", "needs exact, f1 and hub"),
])
def test_bad_score_rows_are_rejected(tmp_path, old, new, message):
    p = tmp_path / "x.yaml"
    text = BASE.replace(old, new)
    assert text != BASE
    p.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        qclaims.load_claims(p)


# --------------------------------------------------------------------------------------------
# Comparison and verdicts


@pytest.mark.parametrize("claimed, reproduced, tol, expected", [
    (80.0, 80.4, 0.5, report.WITHIN),
    (80.0, 80.5, 0.5, report.WITHIN),      # the boundary counts as within
    (80.0, 79.4, 0.5, report.OUTSIDE),
    (80.0, 85.0, 0.5, report.OUTSIDE),
    (80.0, None, 0.5, report.NOT_RUN),
    (80.0, float("nan"), 0.5, report.NOT_RUN),
])
def test_verdict(claimed, reproduced, tol, expected):
    assert report.verdict(claimed, reproduced, tol) == expected


def _reproduced():
    return {
        "published": {"squad_v2-validation": {"exact": 69.9, "f1": 72.9}},
        "distilled": {"squad_v2-validation": {"metrics": {"exact": 67.0, "f1": 71.0}}},
        "base": {"squad_v2-validation": {"exact": 66.0, "f1": 69.0}},
    }


def test_compare_rows_deltas_and_verdicts():
    c = qclaims.load_claims("bert-medium-squad2-distilled")
    t = report.compare(c, _reproduced())
    assert list(t.columns) == report.COMPARISON_COLUMNS
    row = t[(t.claim == "model-index/squad_v2") & (t.model == "published") & (t.metric == "f1")].iloc[0]
    assert row.reproduced == 72.9 and math.isclose(row.delta, 72.9 - 72.9232) and row.verdict == report.WITHIN
    assert row.tolerance == c.tolerance.published
    row = t[(t.claim == "model-index/squad_v2") & (t.model == "distilled") & (t.metric == "exact")].iloc[0]
    assert row.verdict == report.OUTSIDE and row.tolerance == c.tolerance.retrained  # 67.0 vs 69.82
    row = t[(t.claim == "guide/teacher")].iloc[0]
    assert row.verdict == report.NOT_RUN and pd.isna(row.reproduced)
    gain = t[t.claim == "guide/gain"].iloc[0]
    assert gain.reproduced == 2.0 and math.isclose(gain.delta, -1.2) and gain.verdict == report.OUTSIDE
    counts = report.verdict_counts(t)
    assert sum(counts.values()) == len(t) and counts[report.NOT_RUN] >= 1


def test_compare_tolerance_override_and_model_filter():
    c = qclaims.load_claims("bert-medium-squad2-distilled")
    t = report.compare(c, _reproduced(), tolerance=5.0, models=["published"])
    assert set(t.model) == {"published"} and set(t.tolerance) == {5.0}
    assert "guide/gain" not in set(t.claim)  # needs distilled and base


def test_compare_all_covers_every_card_and_formats():
    t = report.compare_all({"bert-medium-squad2-distilled": _reproduced()})
    assert set(t.card) == set(CARDS)
    assert set(t[t.card == "roberta-base-squad2-distilled"].verdict) == {report.NOT_RUN}
    md = report.to_markdown(t)
    assert md.startswith("| card | claim |") and "not run" in md and "+0.00" not in md.splitlines()[0]
    html = report.style_verdicts(t).to_html()
    assert "within tolerance" in html and "background-color" in html


def test_compare_facts_statuses():
    c = qclaims.load_claims("roberta-base-squad2-distilled")
    t = report.compare_facts(c, {"batch_size": 16, "epochs": 4, "temperature": 1.5})
    status = dict(zip(t.fact, t.status))
    assert status["batch_size"] == "differs" and status["n_epochs"] == "same"
    assert status["temperature"] == "same" and status["infrastructure"] == "not compared"
    assert status["learning_rate"] == "not in config"
    assert set(report.compare_facts(c, None).status) == {"not compared"}


# --------------------------------------------------------------------------------------------
# Threshold curve (via qarepro.metrics) against the official best_f1


def _toy():
    gold = {"data": [{"title": "t", "paragraphs": [{"context": "a b c d", "qas": [
        {"id": "1", "question": "?", "answers": [{"text": "b c", "answer_start": 2}]},
        {"id": "2", "question": "?", "answers": []},
        {"id": "3", "question": "?", "answers": [{"text": "d", "answer_start": 6}]},
        {"id": "4", "question": "?", "answers": []},
    ]}]}]}
    preds = {"1": "b c", "2": "a", "3": "c d", "4": "d"}
    na = {"1": 0.2, "2": 0.9, "3": 0.4, "4": 0.1}
    return gold, preds, na


def test_threshold_curve_matches_the_official_sweep():
    from qarepro import metrics

    gold, preds, na = _toy()
    curve = report.threshold_curve(gold, preds, na)
    official = metrics.score(gold, preds, na)
    assert math.isclose(curve.f1.max(), official["best_f1"])
    assert math.isclose(curve.exact.max(), official["best_exact"])
    # keep everything -> the plain score; answer nothing -> the NoAns share
    assert math.isclose(curve.f1.iloc[-1], metrics.score(gold, preds)["f1"])
    assert curve.exact.iloc[0] == 50.0 and curve.threshold.is_monotonic_increasing


def test_threshold_curve_uses_nbest_spans_where_the_decoder_said_no_answer():
    gold, preds, na = _toy()
    preds = {**preds, "1": ""}  # decoder abstained, but its best span was right
    nbest = {"1": [{"text": "", "char_start": None}, {"text": "b c", "char_start": 2}]}
    without = report.threshold_curve(gold, preds, na)
    with_nbest = report.threshold_curve(gold, preds, na, nbest)
    assert with_nbest.f1.iloc[-1] > without.f1.iloc[-1]
    assert report.best_spans(nbest) == {"1": "b c"}


# --------------------------------------------------------------------------------------------
# Plots


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
            {"m": {"f1": 50, "HasAns_f1": 40, "NoAns_f1": 60}, "n": {"metrics": {"f1": 1}}}, path=p),
        "threshold": lambda p: report.plot_threshold_curves({"m": report.threshold_curve(gold, preds, na)}, path=p),
        "ablations": lambda p: report.plot_ablations(runs, path=p),
        "ablations_empty": lambda p: report.plot_ablations(runs.iloc[0:0], path=p),
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


# --------------------------------------------------------------------------------------------
# HTML


def _executed_notebook(tmp_path):
    """A notebook as papermill leaves it: a code cell with a table output and one with a PNG."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    png = base64.b64encode(report.figure_png(fig)).decode()
    plt.close(fig)
    table_html = pd.DataFrame({"dataset": ["squad_v2-validation"], "f1": [84.0]}).to_html()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("secret_code_marker = 1\ntable", execution_count=1, outputs=[
            nbformat.v4.new_output("execute_result", {"text/html": table_html, "text/plain": "t"}, execution_count=1)]),
        nbformat.v4.new_code_cell("fig", execution_count=2, outputs=[
            nbformat.v4.new_output("display_data", {"image/png": png, "text/plain": "<Figure>"})]),
    ])
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


def test_rendered_html_is_self_contained_with_tables_and_images(tmp_path):
    written = report.render_notebook(_executed_notebook(tmp_path), tmp_path / "reports", "01_demo")
    assert set(written) == {"report", "full"}
    assert written["report"].name == "01_demo.html" and written["full"].name == "01_demo.full.html"
    for kind, path in written.items():
        html = path.read_text()
        assert "<table" in html and "squad_v2-validation" in html
        assert 'src="data:image/png;base64,' in html
        assert '<script src="http' not in html  # nothing fetched from a CDN
    assert "secret_code_marker" not in written["report"].read_text()  # report: code hidden
    assert "secret_code_marker" in written["full"].read_text()


def test_html_page_embeds_tables_and_figures():
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()
    page = report.html_page("T", ["text", pd.DataFrame({"a": [1]}), fig])
    plt.close(fig)
    assert "<table" in page and 'src="data:image/png;base64,' in page and "<h1>T</h1>" in page


def test_claims_directory_is_where_paths_says():
    assert qclaims.claims_path("bert-medium-squad2-distilled") == paths.CLAIMS / "bert-medium-squad2-distilled.yaml"


def test_gain_table_means_over_seeds_beside_the_claimed_gain():
    from qarepro import report

    evaluated = {"models": {"t": {"role": "teacher", "metrics": {"d": {"f1": 70.0}}}}}
    runs = []
    for seed, distilled, base in [(42, 60.0, 55.0), (43, 62.0, 57.0)]:
        runs.append({"card": "bert-medium-squad2-distilled", "dataset": "d", "factor": "seed", "seed": seed, "f1": distilled})
        runs.append({"card": "bert-medium-squad2-distilled", "dataset": "d", "factor": "baseline_seed", "seed": seed, "f1": base})
    (row,) = report.gain_table(evaluated, {"runs": runs}).to_dict("records")
    assert row["teacher"] == "70.00" and row["no distillation"] == "56.00 ± 1.41"
    assert row["bert-medium-squad2-distilled: distilled"] == "61.00 ± 1.41"
    assert row["bert-medium-squad2-distilled: gain"] == "+5.00"
    assert row["bert-medium-squad2-distilled: claimed gain"] == "+3.2"


def test_ablation_table_averages_datasets_and_compares_with_the_card_setting_at_the_same_seed():
    from qarepro import report

    card = "bert-medium-squad2-distilled"
    runs = []
    for ds, shift in (("d1", 0.0), ("d2", 10.0)):
        for seed, f1 in ((42, 60.0), (43, 64.0)):
            runs.append({"card": card, "dataset": ds, "factor": "seed", "value": seed, "seed": seed,
                         "decoder": "hf", "f1": f1 + shift})
        runs.append({"card": card, "dataset": ds, "factor": "baseline_seed", "value": 42, "seed": 42,
                     "decoder": "hf", "f1": 50.0 + shift})
        for t, f1 in ((1.0, 58.0), (5.0, 60.0)):
            runs.append({"card": card, "dataset": ds, "factor": "temperature", "value": t, "seed": 42,
                         "decoder": "hf", "f1": f1 + shift})
    table = report.ablation_table({"runs": runs})
    assert list(table["factor"]) == ["seeds", "seeds", "temperature", "temperature"]
    rows = table.set_index("value").to_dict("index")
    assert rows["card setting"]["mean f1"] == "67.00 ± 2.83" and rows["card setting"]["seeds"] == "42, 43"
    assert rows["no distillation (w 0)"]["vs card setting"] == "-10.00"  # paired with seed 42 only
    assert rows["1.0"]["mean f1"] == "63.00" and rows["1.0"]["vs card setting"] == "-2.00"
    assert rows["5.0"]["vs card setting"] == "+0.00" and rows["5.0"]["seeds"] == "42"
    assert report.ablation_table({"runs": []}).empty


# --------------------------------------------------------------------------------------------
# The gain over seeds, pocket verdicts, display without reprs


def _seed_runs(card="bert-medium-squad2-distilled", gains=((42, 60.0, 55.0), (43, 62.0, 56.0), (44, 61.0, 57.0))):
    runs = []
    for ds, shift in (("d1", 0.0), ("d2", 10.0)):
        for seed, distilled, base in gains:
            runs.append({"card": card, "dataset": ds, "factor": "seed", "value": seed, "seed": seed,
                         "decoder": "hf", "f1": distilled + shift, "center": False, "is_base": False})
            runs.append({"card": card, "dataset": ds, "factor": "baseline_seed", "value": seed, "seed": seed,
                         "decoder": "hf", "f1": base + shift, "center": False, "is_base": seed == 42})
    return runs


def test_gain_summary_pairs_seeds_and_gives_a_t_interval():
    g = report.gain_summary(_seed_runs())
    assert list(g["dataset"]) == ["d1", "d2", "mean of 2 sets"]
    row = g.iloc[0]
    # paired gains 5, 6, 4: mean 5, sd 1, t(2) = 4.303 -> half-width 4.303 / sqrt(3)
    assert math.isclose(row.gain, 5.0) and math.isclose(row.gain_sd, 1.0)
    assert math.isclose(row.low, 5.0 - 4.303 / math.sqrt(3)) and math.isclose(row.high, 5.0 + 4.303 / math.sqrt(3))
    assert row.seeds == "42, 43, 44" and row.positive == "3 of 3"
    assert report.gain_direction(row.to_dict()) == report.GAIN_SHOWN
    noisy = report.gain_summary(_seed_runs(gains=((42, 60.0, 55.0), (43, 55.0, 58.0))))
    assert report.gain_direction(noisy.iloc[0].to_dict()) == report.GAIN_NOT_SHOWN


def test_pocket_comparison_marks_absolute_scores_not_comparable_and_judges_the_gain():
    c = qclaims.load_claims("bert-medium-squad2-distilled")
    rep = {"distilled": {"squad_v2-validation": {"exact": 20.0, "f1": 25.0}}}
    gains = report.gain_summary(_seed_runs())
    t = report.compare(c, rep, purpose="pocket", gains=gains)
    scored = t[t.model == "distilled"]
    assert set(scored.verdict) == {report.NOT_COMPARABLE}  # bert-medium claims squad_v2 only
    assert report.OUTSIDE not in set(t.verdict)
    gain = t[t.claim == "guide/gain"].iloc[0]
    assert gain.verdict == report.GAIN_SHOWN and gain.measured_on == "mean of 2 sets"
    assert math.isclose(gain.reproduced, 5.0) and " to " in gain.interval
    wide = report.wide_table(t)
    assert any("not comparable" in str(v) for v in wide["distilled"])
    counts = report.verdict_counts(t)
    assert counts[report.GAIN_SHOWN] == 1 and report.OUTSIDE not in counts
    text = report.headline("pocket", t, gains)
    assert "+5.00" in text and "not comparable" in text and "+3.2" in text


def test_display_tables_hold_no_python_reprs():
    df = pd.DataFrame([{"overrides": {"temperature": 1.0}, "shape": [1605, 2, 192], "f1": 13.333333333,
                        "lr": 3e-05, "flag": True, "none": None}])
    html = report.display_table(df).to_html()
    assert "{'" not in html and "[1605" not in html and "13.333" not in html
    assert "temperature=1.00" in html and "1605 × 2 × 192" in html and "13.33" in html and "3.0e-05" in html
    long = pd.DataFrame({"x": range(300)})
    assert "…" not in report.display_table(long).to_html() and ">299<" in report.display_table(long).to_html()


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


def test_plan_and_runs_are_summarised():
    plan = [{"card": "c", "factor": "temperature", "value": v, "seed": 42, "overrides": {"temperature": v}} for v in (1, 5)]
    s = report.plan_summary(plan)
    assert s.to_dict("records") == [{"card": "c", "factor": "temperature", "values": "1, 5", "seeds": "42", "rows": 2}]
    assert report.plan_table(plan)["overrides"].tolist() == ["temperature=1", "temperature=5"]
