"""`evaluate` metric modules of the project: `evaluate.load(qarepro.metric.PATH)`."""

from pathlib import Path

PATH = str(Path(__file__).with_name("squad_v2_qarepro.py"))


def load(**kwargs):
    """`evaluate.load` of the project's SQuAD 2.0 metric (offline: a local module)."""
    import evaluate  # deferred: the `evaluate` library is slow to import; PATH alone needs nothing

    return evaluate.load(PATH, **kwargs)
