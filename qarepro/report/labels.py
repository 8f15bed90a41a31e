"""The words a report uses: verdicts, gain directions, what each kind of run can say."""

from __future__ import annotations


WITHIN, OUTSIDE, NOT_RUN = "within tolerance", "outside", "not run"


NOT_COMPARABLE = "not comparable"   # an absolute score of another model (pocket runs)


# The pocket runs test the direction of the claim (distillation helps), from the seed interval
GAIN_SHOWN, GAIN_NOT_SHOWN, GAIN_REVERSED = "gain shown", "gain not shown", "distillation worse"


PIPELINE_CHECK = ("pipeline check, not a reproduction: tiny models on the fixture sample; "
                  "the numbers test the machinery, not the cards' claims")


POCKET = ("pocket reproduction: real SQuAD data and a real pretrained encoder (MiniLM-L6 teacher, "
          "3-layer student) at small scale; absolute scores are not comparable with the cards' models: "
          "compare the distillation gain")


SCOPE = {
    "reproduction": (
        "**What this run can say.** The cards' own models and hyperparameters: each claimed number is "
        "set against the number reproduced here, with a verdict within the claims file's tolerance. "
        "**What it cannot say.** Numbers of datasets this run did not evaluate are \"not run\"; one "
        "training seed per card setting unless the profile's grid adds seeds."),
    "pocket": (
        "**What this run can say.** Whether distillation improves the same student on real SQuAD data "
        "(the cards' claim, tested as the gain of the distilled student over the same student trained "
        "without distillation, per dataset, with an interval over training seeds), how that gain moves as "
        "the student's training data grows and under a bias-corrected optimiser, and, where the profile "
        "sweeps them, with temperature, weight, loss variant and decoder. "
        "**What it cannot say.** The cards' absolute scores: the models here are a MiniLM-L6 teacher and a "
        "3-layer student trained on SQuAD 1.1 at small scale, so every absolute card number is shown as "
        "\"not comparable\", and the size of the cards' gains is set beside ours for scale, not as a target: "
        "the cards' students saw ~130k SQuAD 2.0 questions, these a few thousand at most."),
    "pipeline_check": (
        "**What this run can say.** That every stage runs end to end and writes its results and reports. "
        "**What it cannot say.** Anything about the cards: tiny random models on a fixture sample; no "
        "number here is evidence for or against a claim."),
}


INTERVAL_NAME = "95% t-interval over seeds"


def run_scope(purpose: str | None) -> str:
    """Markdown: what a run of this purpose can and cannot say (opens every report)."""
    return SCOPE.get(purpose or "reproduction", SCOPE["reproduction"])
