"""The project's SQuAD 2.0 scorer as a Hugging Face `evaluate` metric.

    import evaluate
    from qarepro import metric
    squad_v2 = evaluate.load(metric.PATH)          # a local module: works offline
    squad_v2.compute(predictions=[{"id": ..., "prediction_text": ..., "no_answer_probability": ...}],
                     references=[{"id": ..., "answers": {"text": [...], "answer_start": [...]}}])

Same inputs, keyword and output keys as `evaluate.load("squad_v2")`; the scoring is
`qarepro.metrics.score`, the re-implementation of the official `evaluate-v2.0.py` that
`qarepro score` runs (and that equals the official script on every key).

One difference from `evaluate.load("squad_v2")`: `no_answer_probability` is declared float64, not
float32, so a probability reaches the scorer as the float it was (0.3 stays 0.3, not
0.30000001192...). With float32, a probability equal to the threshold rounds above or below it,
and `best_*_thresh` comes back as 0.699999988 for 0.7 (tests/test_metric.py measures both).
"""

import datasets
import evaluate

from qarepro import metrics as qmetrics

_CITATION = """\
@inproceedings{rajpurkar-etal-2018-know,
    title = "Know What You Don't Know: Unanswerable Questions for {SQ}u{AD}",
    author = "Rajpurkar, Pranav and Jia, Robin and Liang, Percy",
    booktitle = "Proceedings of ACL 2018", year = "2018", pages = "784--789",
}
"""

_DESCRIPTION = "SQuAD 2.0 exact match and F1 (official evaluate-v2.0.py rules), scored by qarepro.metrics."

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of {"id": str, "prediction_text": str ("" for no answer), "no_answer_probability": float}
    references: list of {"id": str, "answers": {"text": list of str, "answer_start": list of int}}
    no_answer_threshold: predict "" where the no-answer probability exceeds it (default 1.0)
Returns: the official script's keys: exact, f1, total, HasAns_*, NoAns_* (where present),
    best_exact, best_exact_thresh, best_f1, best_f1_thresh.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SquadV2Qarepro(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation=_CITATION, inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({
                "predictions": {"id": datasets.Value("string"), "prediction_text": datasets.Value("string"),
                                "no_answer_probability": datasets.Value("float64")},
                "references": {"id": datasets.Value("string"),
                               "answers": datasets.features.Sequence({"text": datasets.Value("string"),
                                                                      "answer_start": datasets.Value("int32")})},
            }),
            reference_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
        )

    def _compute(self, predictions, references, no_answer_threshold=1.0):
        qas = [{"id": r["id"], "answers": [{"text": t, "answer_start": int(s)} for t, s in
                                           zip(r["answers"]["text"], r["answers"]["answer_start"])]}
               for r in references]
        data = {"version": "v2.0", "data": [{"title": "", "paragraphs": [{"context": "", "qas": qas}]}]}
        preds = {p["id"]: p["prediction_text"] for p in predictions}
        na_probs = {p["id"]: float(p["no_answer_probability"]) for p in predictions}
        return dict(qmetrics.score(data, preds, na_probs, na_prob_thresh=no_answer_threshold))
