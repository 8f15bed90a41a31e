"""qarepro.metrics against the official SQuAD 2.0 script (tests/oracle/) and a naive re-derivation."""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import json
import logging
import re
import string
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qarepro import metrics, paths
from qarepro.metrics import ScoreInputError

SQUAD2 = paths.FIXTURES / "squad-v2.0-dev-sample.json"
SQUAD1 = paths.FIXTURES / "squad-v1.1-dev-sample.json"
ORACLE = paths.TESTS / "oracle" / "evaluate_v2_official.py"
HEADER_END = "END-OF-HEADER"


def _load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the oracle parses sys.argv only under __main__
    return module


official = _load_module("squad_v2_official", ORACLE)
check_scorer = _load_module("check_scorer", paths.ROOT / "scripts" / "check_scorer.py")


def _data(path: Path) -> dict:
    return json.loads(path.read_text())


def _qids(path: Path) -> list[str]:
    return [qa["id"] for qa in metrics.iter_questions(_data(path)["data"])]


# Hand-made answers that stress normalisation; given to the first questions of each fixture.
TRICKY = ["“Normandy”", "Normandy—France", "1,000", "theater", "THE  a  An", "a-b c", ".", " ",
          "Ça, c'est  l'été!", "İstanbul", "the the", "don't", "\tNormans\n"]


def adversarial(path: Path, seed: int, drop_fraction: float = 0.0) -> tuple[dict, dict]:
    """Synthetic predictions (gold/variant/partial/empty/junk/wrong) plus TRICKY strings."""
    preds, na_probs = check_scorer.synthetic_predictions(_data(path)["data"], seed, drop_fraction)
    for qid, text in zip([q for q in _qids(path) if q in preds], TRICKY):
        preds[qid] = text
    na_probs = {k: (0.0 if v == 0.75 else v) for k, v in na_probs.items()}  # values in {0, .25, .5, 1}
    return preds, na_probs


def write(tmp_path: Path, name: str, obj) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(obj))
    return p


def run_oracle(data: Path, preds: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ORACLE), str(data), str(preds), *args],
                          capture_output=True, text=True, cwd=cwd)


def oracle_score(data: Path, preds: Path, *args: str) -> dict:
    out = run_oracle(data, preds, *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def assert_same(expected: dict, actual: dict, tol: float = 1e-9) -> None:
    assert list(actual) == list(expected)
    for key, value in expected.items():
        assert type(actual[key]) is type(value), key
        assert abs(actual[key] - value) <= tol, (key, actual[key], value)


# --------------------------------------------------------------------------------------------
# The oracle itself


def test_oracle_script_is_kept_unmodified():
    head, rest = ORACLE.read_text(encoding="utf-8").rsplit(HEADER_END, 1)
    body = rest.split("\n", 1)[1]
    recorded = re.search(r"^# ([0-9a-f]{64})$", head, re.M).group(1)
    assert len(body) == 10546
    assert hashlib.sha256(body.encode()).hexdigest() == recorded
    assert body.startswith('"""Official evaluation script for SQuAD version 2.0.')
    assert "rajpurkar/SQuAD-explorer" in head and "MIT License" in head


# --------------------------------------------------------------------------------------------
# (a) score() equals the oracle subprocess on every key

SETTINGS = {
    "plain": [],
    "t=-0.5 without -n": ["-t", "-0.5"],
    "-n": ["-n", "{na}"],
    "-n -t 0.5": ["-n", "{na}", "-t", "0.5"],
    "-n -t 0": ["-n", "{na}", "-t", "0"],
    "-n -t 0.25": ["-n", "{na}", "-t", "0.25"],
    "-n -p": ["-n", "{na}", "-p", "{img}"],
}


CASES = [(fixture, 0, setting) for fixture in (SQUAD2, SQUAD1) for setting in SETTINGS
         if not (fixture == SQUAD1 and setting == "-n -p")]  # squad1 curves: test_squad1_has_no_noans_keys
CASES += [(fixture, 1, setting) for fixture in (SQUAD2, SQUAD1) for setting in ("-n", "-n -t 0.5")]


@pytest.mark.parametrize("fixture, seed, setting", CASES,
                         ids=[f"{f.name[6:10]}-seed{s}-{t}" for f, s, t in CASES])
def test_score_equals_official(tmp_path, fixture, seed, setting):
    preds, na_probs = adversarial(fixture, seed)
    pred_file, na_file = write(tmp_path, "p.json", preds), write(tmp_path, "na.json", na_probs)
    args = [a.format(na=na_file, img=tmp_path / "img_oracle") for a in SETTINGS[setting]]
    expected = oracle_score(fixture, pred_file, *args)
    thresh = float(args[args.index("-t") + 1]) if "-t" in args else 1.0
    image_dir = tmp_path / "img" if "-p" in args else None
    actual = metrics.score(fixture, preds, na_probs if "-n" in args else None, thresh, image_dir)
    assert_same(expected, actual)
    # paths and dicts are the same input
    assert metrics.score(str(fixture), pred_file, na_file if "-n" in args else None, thresh) == {
        k: v for k, v in actual.items() if not k.startswith("pr_")}
    if "-p" in args:
        assert {"pr_exact_ap", "pr_f1_ap", "pr_oracle_ap"} <= set(actual)
        names = sorted(p.name for p in (tmp_path / "img_oracle").iterdir())
        assert names == sorted(p.name for p in image_dir.iterdir())
        # same plots, to the byte
        assert all((image_dir / n).read_bytes() == (tmp_path / "img_oracle" / n).read_bytes() for n in names)


def test_missing_predictions_scored_as_wrong_answers(tmp_path, caplog):
    preds, na_probs = adversarial(SQUAD2, seed=3, drop_fraction=0.2)
    missing = [q for q in _qids(SQUAD2) if q not in preds]
    assert len(missing) > 10
    pred_file, na_file = write(tmp_path, "p.json", preds), write(tmp_path, "na.json", na_probs)
    # the official script prints "Missing prediction for <id>", then crashes
    out = run_oracle(SQUAD2, pred_file, "-n", na_file)
    assert out.returncode != 0 and f"Missing prediction for {missing[0]}" in out.stdout
    # qarepro scores them as the official script scores a wrong non-empty answer
    filled = write(tmp_path, "filled.json", {**preds, **{q: check_scorer.SENTINEL for q in missing}})
    with caplog.at_level(logging.WARNING, logger="qarepro.metrics"):
        result = metrics.score_detailed(SQUAD2, pred_file, na_file)
    assert result.missing_ids == missing
    assert f"{len(missing)} of {len(_qids(SQUAD2))} questions have no prediction" in caplog.text
    assert_same(oracle_score(SQUAD2, filled, "-n", na_file), result.metrics)
    assert_same(oracle_score(SQUAD2, filled), metrics.score(SQUAD2, pred_file))
    assert all(result.exact_raw[q] == result.f1_raw[q] == 0 for q in missing)
    # no probability for an unanswered question: 0.0, appended after the file's ids
    na_partial = {k: v for k, v in na_probs.items() if k not in missing}
    na_filled = write(tmp_path, "na2.json", {**na_partial, **{q: 0.0 for q in missing}})
    assert_same(oracle_score(SQUAD2, filled, "-n", na_filled), metrics.score(SQUAD2, preds, na_partial))


# --------------------------------------------------------------------------------------------
# (b) an independent, naive re-derivation


def naive_normalize(s: str) -> str:
    s = "".join(c for c in s.lower() if c not in string.punctuation)
    return " ".join(w for w in s.split() if w not in ("a", "an", "the"))


def naive_em_f1(golds: list[str], pred: str) -> tuple[Fraction, Fraction]:
    golds = [g for g in golds if naive_normalize(g)] or [""]
    em, f1 = Fraction(0), Fraction(0)
    for gold in golds:
        g, p = naive_normalize(gold).split(), naive_normalize(pred).split()
        common = sum((collections.Counter(g) & collections.Counter(p)).values())
        em = max(em, Fraction(int(g == p)))
        f1 = max(f1, Fraction(int(g == p)) if not g or not p else Fraction(2 * common, len(g) + len(p)))
    return em, f1


@pytest.mark.parametrize("fixture", [SQUAD2, SQUAD1], ids=["squad2", "squad1"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_naive_rederivation(fixture, seed):
    preds, na = adversarial(fixture, seed)
    questions = {qa["id"]: qa for qa in metrics.iter_questions(_data(fixture)["data"])}
    golds = {q: [a["text"] for a in qa["answers"]] for q, qa in questions.items()}
    has_ans = {q: bool(g) for q, g in golds.items()}
    raw = {q: naive_em_f1(golds[q], preds[q]) for q in questions}
    n = len(questions)

    for thresh in (1.0, 0.5, 0.25, 0.0):  # the metric at a threshold, computed directly
        got = metrics.score(fixture, preds, na, na_prob_thresh=thresh)
        final = {q: naive_em_f1(golds[q], "" if na[q] > thresh else preds[q]) for q in questions}
        groups = {"": list(questions), "HasAns_": [q for q in questions if has_ans[q]],
                  "NoAns_": [q for q in questions if not has_ans[q]]}
        for prefix, qs in groups.items():
            if not qs:
                assert f"{prefix}total" not in got
                continue
            assert got[f"{prefix}total"] == len(qs)
            assert got[f"{prefix}exact"] == pytest.approx(float(100 * sum(final[q][0] for q in qs) / len(qs)), abs=1e-9)
            assert got[f"{prefix}f1"] == pytest.approx(float(100 * sum(final[q][1] for q in qs) / len(qs)), abs=1e-9)

    # The sweep, candidate by candidate: answer the first k questions in (stable) probability
    # order and abstain on the rest; k = 0 has threshold 0.0. The official rule: abstaining
    # earns 1 on a NoAns question; answering one earns 1 only if the prediction is "" exactly.
    order = sorted((q for q in na if q in questions), key=lambda q: na[q])  # stable: ties keep `na` order
    got = metrics.score(fixture, preds, na)
    for i, name in ((0, "exact"), (1, "f1")):
        candidates = []
        for k in range(n + 1):
            answered = set(order[:k])
            total = sum((raw[q][i] if has_ans[q] else Fraction(int(preds[q] == "")))
                        if q in answered else Fraction(int(not has_ans[q])) for q in questions)
            candidates.append((total, 0.0 if k == 0 else na[order[k - 1]]))
        best = max(t for t, _ in candidates)
        first_best_thresh = next(th for t, th in candidates if t == best)
        assert got[f"best_{name}"] == pytest.approx(float(100 * best / n), abs=1e-9)
        if name == "exact":  # integer totals: the first best candidate, exactly
            assert got["best_exact_thresh"] == first_best_thresh
            assert type(got["best_exact_thresh"]) is type(first_best_thresh)
        else:  # float sums: any candidate whose exact total is the best
            assert got["best_f1_thresh"] in {th for t, th in candidates if t == best}


def test_sweep_quirks_match_official(tmp_path):
    """Two behaviours of the official sweep, kept on purpose (they change best_* values).

    1. The best is checked after every question, so a point inside a group of tied
       probabilities counts although no threshold gives it; the order of ids then matters.
    2. Answering a NoAns question with a non-empty text that normalises to "" ("." here) scores
       1 for EM/F1 but counts as wrong in the sweep.
    """
    data = {"data": [{"title": "t", "paragraphs": [{"context": "Paris is big.", "qas": [
        {"id": "has", "question": "?", "answers": [{"text": "Paris", "answer_start": 0}]},
        {"id": "no", "question": "?", "answers": []}]}]}]}
    data_file = write(tmp_path, "d.json", data)
    cases = [
        ({"has": "Paris", "no": "big"}, {"has": 0.5, "no": 0.5}, 100.0, 0.5),  # inside the tie
        ({"has": "Paris", "no": "big"}, {"no": 0.5, "has": 0.5}, 50.0, 0.0),   # same, other order
        ({"has": "Paris", "no": "."}, {"no": 0.2, "has": 0.7}, 50.0, 0.0),
    ]
    for preds, na, best, thresh in cases:
        pred_file, na_file = write(tmp_path, "p.json", preds), write(tmp_path, "n.json", na)
        expected = oracle_score(data_file, pred_file, "-n", na_file)
        got = metrics.score(data, preds, na)
        assert_same(expected, got)
        assert (got["best_exact"], got["best_exact_thresh"]) == (best, thresh)
    # quirk 2: "." is a perfect answer for "no" (EM 1), so answering everything gives exact 100,
    # but the sweep counts it wrong and reports a best below the default-threshold score
    assert got["exact"] == 100.0 and got["best_exact"] == 50.0


# --------------------------------------------------------------------------------------------
# (c) property tests against the oracle's own functions

TEXT = st.text(alphabet=st.sampled_from(list(string.punctuation + " \t\n" + "aAnNtThHeEbcx" + "éİßΣ“”—\u00a0")),
               max_size=30) | st.text(max_size=20)
ASCII = st.text(alphabet=st.sampled_from(list(string.ascii_letters + string.punctuation + " ")), max_size=30)


@settings(max_examples=200, deadline=None)
@given(TEXT, TEXT)
def test_text_functions_equal_official(a, b):
    assert metrics.normalize_answer(a) == official.normalize_answer(a)
    assert metrics.get_tokens(a) == official.get_tokens(a)
    assert metrics.compute_exact(a, b) == official.compute_exact(a, b)
    assert metrics.compute_f1(a, b) == official.compute_f1(a, b)  # bit-for-bit


@settings(max_examples=200, deadline=None)
@given(ASCII, ASCII)
def test_normalisation_and_f1_invariants(a, b):
    norm = metrics.normalize_answer
    assert norm(norm(a)) == norm(a)
    assert norm(a.upper()) == norm(a) == norm(f"The {a}!") == norm(f"  {a}\t")
    f1 = metrics.compute_f1(a, b)
    assert 0.0 <= f1 <= 1.0 and f1 == metrics.compute_f1(b, a)
    same_bag = collections.Counter(norm(a).split()) == collections.Counter(norm(b).split())
    assert (f1 == 1.0) == same_bag
    assert metrics.compute_exact(a, b) <= f1


@st.composite
def sweep_inputs(draw):
    n = draw(st.integers(1, 12))
    qids = [f"q{i}" for i in range(n)]
    has_ans = {q: draw(st.booleans()) for q in qids}
    scores = {q: draw(st.sampled_from([0, 1, 0.5, 1 / 3, 2 / 3, 0.4])) if has_ans[q] else draw(st.sampled_from([0, 1]))
              for q in qids}
    preds = {q: draw(st.sampled_from(["", "x", "."])) for q in qids}
    na = {q: draw(st.sampled_from([0, 0.0, 0.25, 0.5, 1, 1.0])) for q in draw(st.permutations(qids))}
    return preds, scores, na, has_ans


@settings(max_examples=200, deadline=None)
@given(sweep_inputs(), st.sampled_from([0.0, 0.25, 0.5, 1.0]))
def test_sweep_and_curves_equal_official(inputs, thresh):
    preds, scores, na, has_ans = inputs
    got, want = metrics.find_best_thresh(preds, scores, na, has_ans), official.find_best_thresh(preds, scores, na, has_ans)
    assert got == want and type(got[1]) is type(want[1])
    assert metrics.apply_no_ans_threshold(scores, na, has_ans, thresh) == official.apply_no_ans_threshold(
        scores, na, has_ans, thresh)
    assert metrics.make_eval_dict(scores, scores) == official.make_eval_dict(scores, scores)
    n_true = sum(has_ans.values())
    if n_true:
        curve = metrics.precision_recall_curve(scores, na, n_true, has_ans)
        assert curve.ap == official.make_precision_recall_eval(scores, na, n_true, has_ans)["ap"]


# --------------------------------------------------------------------------------------------
# (d) the command line


@pytest.mark.parametrize("extra", [[], ["-n", "{na}"], ["-n", "{na}", "-t", "0.25", "-v"]])
def test_cli_stdout_and_out_file_equal_official(tmp_path, capsys, extra):
    preds, na_probs = adversarial(SQUAD2, seed=4)
    pred_file, na_file = write(tmp_path, "p.json", preds), write(tmp_path, "na.json", na_probs)
    args = [a.format(na=na_file) for a in extra]
    expected = run_oracle(SQUAD2, pred_file, *args)
    assert metrics.main([str(SQUAD2), str(pred_file), *args]) == 0
    assert capsys.readouterr().out == expected.stdout
    run_oracle(SQUAD2, pred_file, *args, "-o", str(tmp_path / "official.json"))
    assert metrics.main([str(SQUAD2), str(pred_file), *args, "-o", str(tmp_path / "sub" / "ours.json")]) == 0
    assert capsys.readouterr().out == ""
    assert (tmp_path / "sub" / "ours.json").read_bytes() == (tmp_path / "official.json").read_bytes()


def test_qarepro_score_command(tmp_path):
    preds, _ = adversarial(SQUAD1, seed=0)
    pred_file = write(tmp_path, "p.json", preds)
    ours = subprocess.run([sys.executable, "-m", "qarepro.cli", "score", str(SQUAD1), str(pred_file)],
                          capture_output=True, text=True, cwd=paths.ROOT)
    assert ours.returncode == 0 and ours.stdout == run_oracle(SQUAD1, pred_file).stdout


def test_cli_reports_missing_predictions(tmp_path, capsys):
    preds, _ = adversarial(SQUAD2, seed=5, drop_fraction=0.1)
    missing = [q for q in _qids(SQUAD2) if q not in preds]
    pred_file = str(write(tmp_path, "p.json", preds))
    out = subprocess.run([sys.executable, "-m", "qarepro.cli", "score", str(SQUAD2), pred_file],
                         capture_output=True, text=True, cwd=paths.ROOT)
    assert out.returncode == 0
    json.loads(out.stdout)  # stdout stays pure JSON
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{len(missing)} of {len(_qids(SQUAD2))} questions have no prediction" in lines[0]
    assert missing[0] in lines[0] and "Missing prediction for" not in out.stderr
    # the official per-question lines, on stdout before the JSON, behind a flag
    assert metrics.main([str(SQUAD2), pred_file, "--official-missing"]) == 0
    captured = capsys.readouterr()
    head, _, body = captured.out.partition("{")
    assert head.count("Missing prediction for ") == len(missing) and json.loads("{" + body)


def test_cli_counts_predicted_ids_that_are_not_in_the_data(tmp_path):
    preds, _ = adversarial(SQUAD2, seed=5)
    preds.update({"not-a-question-1": "x", "not-a-question-2": ""})
    out = subprocess.run([sys.executable, "-m", "qarepro.cli", "score", str(SQUAD2), str(write(tmp_path, "p.json", preds))],
                         capture_output=True, text=True, cwd=paths.ROOT)
    assert out.returncode == 0 and json.loads(out.stdout)["total"] == len(_qids(SQUAD2))
    assert "2 predicted id(s) are not questions of the data (first: not-a-question-1, not-a-question-2)" in out.stderr
    result = metrics.score_detailed(str(SQUAD2), preds)
    assert result.unknown_ids == ["not-a-question-1", "not-a-question-2"]


def test_cli_ends_quietly_when_the_reader_closes_the_pipe(tmp_path):
    preds, _ = adversarial(SQUAD2, seed=5, drop_fraction=0.1)
    pred_file = write(tmp_path, "p.json", preds)
    # `true` exits without reading, so every write of the scorer meets a closed pipe
    cmd = f"{sys.executable} -m qarepro.cli score {SQUAD2} {pred_file} --official-missing | true"
    out = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, cwd=paths.ROOT)
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr and out.returncode == 0
    cmd = f"{sys.executable} -m qarepro.cli score {SQUAD2} {pred_file} --official-missing | head -n 1"
    out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=paths.ROOT)
    assert out.stdout.startswith("Missing prediction for ") and out.stdout.count("\n") == 1


@pytest.mark.parametrize(
    "which, content, message",
    [
        ("data", "{not json", "not valid JSON (line 1"),
        ("data", '{"version": "v2.0"}', 'expected a JSON object with a "data" list'),
        ("data", '{"data": [{"paragraphs": [{"qas": [{"id": "q1", "answers": "x"}]}]}]}', "question q1"),
        ("preds", '{"q": ', "not valid JSON"),
        ("preds", '["a", "b"]', "expected a JSON object"),
        ("preds", '{"56ddde6b9a695914005b9628": 3}', "prediction for question 56ddde6b9a695914005b9628 is 3"),
        ("na", "[1, 2", "not valid JSON"),
        ("na", '{"56ddde6b9a695914005b9628": "high"}', "probability for question 56ddde6b9a695914005b9628"),
        ("na", "{}", "no probability for 204 predicted question(s)"),
    ],
)
def test_cli_errors_name_the_file(tmp_path, capsys, which, content, message):
    files = {"data": SQUAD2, "preds": write(tmp_path, "p.json", adversarial(SQUAD2, 0)[0]), "na": None}
    bad = tmp_path / f"bad_{which}.json"
    bad.write_text(content)
    files[which] = bad
    argv = [str(files["data"]), str(files["preds"])] + (["-n", str(files["na"])] if files["na"] else [])
    assert metrics.main(argv) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and message in err
    with pytest.raises(ScoreInputError, match=re.escape(str(bad))):
        metrics.score(files["data"], files["preds"], files["na"])


def test_cli_missing_file_and_no_arguments(tmp_path, capsys):
    assert metrics.main([str(tmp_path / "nope.json"), str(SQUAD2)]) == 2
    assert f"data file {tmp_path / 'nope.json'}: not found" in capsys.readouterr().err
    assert metrics.main([]) == 1
    assert "data.json" in capsys.readouterr().out


def test_images_only_with_na_probs(tmp_path):
    preds, _ = adversarial(SQUAD2, 0)
    metrics.score(SQUAD2, preds, out_image_dir=tmp_path / "img")  # like the official: -p needs -n
    assert not (tmp_path / "img").exists()


# --------------------------------------------------------------------------------------------
# (e) SQuAD 1.1-style data


def test_squad1_has_no_noans_keys(tmp_path):
    preds, na = adversarial(SQUAD1, 0)
    plain = metrics.score(SQUAD1, preds)
    assert list(plain) == ["exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total"]
    assert plain["exact"] == plain["HasAns_exact"] and plain["total"] == plain["HasAns_total"] == 46
    full = metrics.score(SQUAD1, preds, na, out_image_dir=tmp_path)
    assert list(full)[6:] == ["best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh",
                              "pr_exact_ap", "pr_f1_ap", "pr_oracle_ap"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["na_prob_hist_hasAns.png", "pr_exact.png",
                                                          "pr_f1.png", "pr_oracle.png"]
    has_ans = official.make_qid_to_has_ans(_data(SQUAD1)["data"])
    exact_raw, f1_raw = official.get_raw_scores(_data(SQUAD1)["data"], preds)
    for key, scores in (("pr_exact_ap", exact_raw), ("pr_f1_ap", f1_raw),
                        ("pr_oracle_ap", {k: float(v) for k, v in has_ans.items()})):
        assert full[key] == official.make_precision_recall_eval(scores, na, len(has_ans), has_ans)["ap"]


def _score_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qarepro.cli", "score", *map(str, args)],
                          capture_output=True, text=True, cwd=paths.ROOT)


def _one_line_error(out: subprocess.CompletedProcess, *fragments: str) -> None:
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert lines[0].startswith("qarepro score: error: ") and all(f in lines[0] for f in fragments), lines[0]


def test_cli_out_file_writes_through_a_symlink_and_a_fifo(tmp_path):
    """-o honours what it names, as the official script's open(path, "w") does."""
    import os, threading  # noqa: E401  (only this test makes links and FIFOs)

    preds, _ = adversarial(SQUAD1, seed=0)
    pred_file = write(tmp_path, "p.json", preds)
    expected = run_oracle(SQUAD1, pred_file, "-o", str(tmp_path / "official.json"))
    target, link = tmp_path / "target.json", tmp_path / "link.json"
    target.write_text("")
    os.chmod(target, 0o600)
    link.symlink_to(target)
    assert expected.returncode == 0 and _score_cli(SQUAD1, pred_file, "-o", link).returncode == 0
    assert link.is_symlink() and target.read_bytes() == (tmp_path / "official.json").read_bytes()
    assert (target.stat().st_mode & 0o777) == 0o600
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    out = _score_cli(SQUAD1, pred_file, "-o", fifo)
    reader.join(timeout=30)
    if reader.is_alive():  # nothing was written into the FIFO: let the reader finish
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert out.returncode == 0 and received == [(tmp_path / "official.json").read_bytes()]


@pytest.mark.parametrize("where", ["a directory", "under a file", "images onto a file"])
def test_cli_unwritable_outputs_are_one_line_errors(tmp_path, where):
    preds, na = adversarial(SQUAD2, seed=1)
    pred_file, na_file = write(tmp_path, "p.json", preds), write(tmp_path, "na.json", na)
    (tmp_path / "file").write_text("x")
    if where == "a directory":
        out, fragments = _score_cli(SQUAD2, pred_file, "-o", tmp_path), (str(tmp_path), "is a directory")
    elif where == "under a file":
        out = _score_cli(SQUAD2, pred_file, "-o", tmp_path / "file" / "eval.json")
        fragments = (str(tmp_path / "file"), "is a file, not a folder")
    else:
        out = _score_cli(SQUAD2, pred_file, "-n", na_file, "-p", tmp_path / "file")
        fragments = ("-p", str(tmp_path / "file"), "is a file, not a folder")
    _one_line_error(out, *fragments)


def test_cli_huge_integer_probability_scores_as_official_and_cannot_be_plotted(tmp_path):
    preds, na = adversarial(SQUAD2, seed=2)
    pred_file = write(tmp_path, "p.json", preds)
    first = next(iter(na))
    na_file = tmp_path / "na.json"
    na_file.write_text(json.dumps(na).replace(f'"{first}": {json.dumps(na[first])}', f'"{first}": {"9" * 401}', 1))
    ours = _score_cli(SQUAD2, pred_file, "-n", na_file)
    assert ours.returncode == 0 and ours.stdout == run_oracle(SQUAD2, pred_file, "-n", str(na_file)).stdout
    _one_line_error(_score_cli(SQUAD2, pred_file, "-n", na_file, "-p", tmp_path / "img"), first, "too large to plot")


@pytest.mark.parametrize("case", ["2.0 predictions on 1.1 data", "only unknown ids"])
def test_cli_strict_fails_on_unanswered_or_unknown_questions(tmp_path, case):
    preds, _ = adversarial(SQUAD2, seed=3)
    if case == "only unknown ids":
        preds = {f"not-a-question-{i}": "x" for i in range(3)}
    pred_file = write(tmp_path, "p.json", preds)
    default = _score_cli(SQUAD1, pred_file)
    assert default.returncode == 0 and "have no prediction" in default.stderr  # the official behaviour
    strict = _score_cli(SQUAD1, pred_file, "--strict")
    _one_line_error(strict, "--strict", f"{len(_qids(SQUAD1))} of {len(_qids(SQUAD1))} questions have no prediction",
                    "are not questions of the data")
    assert strict.stdout == ""
    with pytest.raises(ScoreInputError, match="--strict"):
        metrics.score_detailed(SQUAD1, preds, strict=True)
    complete = write(tmp_path, "all.json", {q: "x" for q in _qids(SQUAD1)})
    assert _score_cli(SQUAD1, complete, "--strict").returncode == 0
