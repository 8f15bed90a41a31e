"""QA examples: the dataset registry and where each dataset is found (file, folder, hub).

Every dataset the two model cards are scored on is a key of `REGISTRY`. `load_examples` finds
it, in this order: an explicit file path, then `<data_dir or $QAREPRO_DATA_DIR>/<filename>`,
then the Hugging Face hub; when none of these works it raises `DataSourceError`, which says
what was looked for where and how to fix it.

Whatever the source, the result is a `datasets.Dataset` with the Hugging Face `squad` schema
(see `FEATURES`): one row per question, unanswerable questions having empty answer lists.

Files and hub splits are validated while they are read (`qarepro.squad_json`, whose names
this module re-exports): any problem raises `DataError`, naming the file and the question.
"""

from __future__ import annotations

import difflib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets

from . import hub, paths

from .squad_json import COLUMNS, Checker, DataError, empty_columns, log_counts, read_file, to_dataset
# re-exported: callers find the example schema and the SQuAD JSON functions in qarepro.data too
from .squad_json import FEATURES, describe, fingerprint, read_squad_json, to_squad_json  # noqa: F401


log = logging.getLogger("qarepro.data")


class DataSourceError(RuntimeError):
    """A dataset could not be found anywhere: no usable local file and no hub."""


def absent(err: DataSourceError) -> bool:
    """Did the hub answer that it does not have the data (no export, no repo, no files), rather
    than fail to answer (offline, unreachable, a stalled download, which a rerun may fix)?"""
    cause = err.__cause__
    return cause is not None and not hub.unreachable(cause)


PARQUET_EXPORT = "refs/convert/parquet"  # the revision where the hub keeps its automatic parquet export


ADVERSARIAL_SQUAD_ORIGINAL = ("https://worksheets.codalab.org/worksheets/0xc86d3ebe69a3427d91f9aaa63f7d1e7d/ "
                              "(Jia & Liang 2017; also github.com/robinjia/adversarial-squad)")


SQUADSHIFTS_ORIGINAL = "https://modestyachts.github.io/squadshifts-website/ (Miller et al. 2020)"


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset split: where it lives on the hub, and the file name it has locally.

    On the hub a split is `load_dataset(hub_id, hub_config, revision=hub_revision,
    data_dir=hub_data_dir, split=split)`. Repos that still hold a loading script on main (which
    `datasets` >= 4 refuses) are read from the hub's parquet export (`hub_revision`
    refs/convert/parquet), where one folder holds one config: `hub_data_dir` selects it, and
    without it every folder's files would be merged into one split.
    """

    key: str
    hub_id: str  # canonical namespace/name: single-segment ids are refused by today's huggingface_hub
    hub_config: str | None
    split: str
    filename: str
    has_unanswerable: bool
    description: str
    subset: str | None = None  # "answerable": keep only questions with a gold answer
    hub_revision: str = "main"  # branch, tag or commit; the commit it resolves to is recorded (hub_source)
    hub_data_dir: str | None = None  # the folder of the revision that holds this split
    original: str | None = None  # where the original files are published, for users without the hub

    def __post_init__(self) -> None:
        if "/" not in self.hub_id:
            raise ValueError(f"dataset {self.key!r}: hub id {self.hub_id!r} is not namespace/name")
        if self.hub_revision == PARQUET_EXPORT and not self.hub_data_dir:
            raise ValueError(f"dataset {self.key!r}: a split of the parquet export needs hub_data_dir "
                             f"(without it every config of {self.hub_id} is merged into one split)")

    def local_path(self, folder: str | os.PathLike) -> Path:
        return Path(folder) / self.filename

    @property
    def hub_ref(self) -> str:
        """`repo@revision` with the config or folder and the split, for messages and provenance."""
        where = f"config {self.hub_config}" if self.hub_config else f"folder {self.hub_data_dir}"
        return f"{self.hub_id}@{self.hub_revision} ({where}, split {self.split})"


def _specs() -> dict[str, DatasetSpec]:
    squad2, squad1 = "rajpurkar/squad_v2", "rajpurkar/squad"
    specs = [
        DatasetSpec("squad_v2-train", squad2, "squad_v2", "train", "squad-v2.0-train.json", True,
                    "SQuAD 2.0 training set (130,319 questions, a third unanswerable)"),
        DatasetSpec("squad_v2-validation", squad2, "squad_v2", "validation", "squad-v2.0-dev.json", True,
                    "SQuAD 2.0 dev set (11,873 questions, 5,945 unanswerable): the cards' main score"),
        DatasetSpec("squad_v2-validation-answerable", squad2, "squad_v2", "validation", "squad-v2.0-dev.json",
                    False, "SQuAD 2.0 dev set, answerable questions only (5,928): for readers that never "
                    "saw an unanswerable question", subset="answerable"),
        DatasetSpec("squad-train", squad1, "plain_text", "train", "squad-v1.1-train.json", False,
                    "SQuAD 1.1 training set (87,599 questions)"),
        DatasetSpec("squad-validation", squad1, "plain_text", "validation", "squad-v1.1-dev.json", False,
                    "SQuAD 1.1 dev set (10,570 questions)"),
        DatasetSpec("adversarial_qa-validation", "UCLNLP/adversarial_qa", "adversarialQA", "validation",
                    "adversarial_qa-adversarialQA-validation.json", False,
                    "AdversarialQA, all three model-in-the-loop rounds, validation split (3,000 questions)"),
    ]
    # Loading-script repos: read from the hub's parquet export, one folder per config.
    for config, text in [("AddOneSent", "one distracting sentence added (1,787 questions)"),
                         ("AddSent", "distracting sentences added (3,560 questions)")]:
        specs.append(DatasetSpec(f"squad_adversarial-{config}", "stanfordnlp/squad_adversarial", None, "validation",
                                 f"squad_adversarial-{config}.json", False, f"Adversarial SQuAD, {config}: {text}",
                                 hub_revision=PARQUET_EXPORT, hub_data_dir=config,
                                 original=ADVERSARIAL_SQUAD_ORIGINAL))
    for domain, text in [
        ("amazon", "Amazon product reviews (9,885 questions)"),
        ("new_wiki", "new Wikipedia articles (7,938 questions)"),
        ("nyt", "New York Times articles (10,065 questions)"),
        ("reddit", "Reddit posts (9,803 questions)"),
    ]:
        specs.append(DatasetSpec(f"squadshifts-{domain}", "ludwigschmidt/squadshifts", None, "test",
                                 f"squadshifts-{domain}.json", False, f"SQuADShifts test set: {text}",
                                 hub_revision=PARQUET_EXPORT, hub_data_dir=domain, original=SQUADSHIFTS_ORIGINAL))
    return {s.key: s for s in specs}


REGISTRY: dict[str, DatasetSpec] = _specs()


def get_spec(key: str) -> DatasetSpec:
    try:
        return REGISTRY[key]
    except KeyError:
        close = difflib.get_close_matches(key, REGISTRY, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise DataSourceError(
            f"Unknown dataset {key!r}: it is neither a key of the dataset registry nor a path to an "
            f"existing file.{hint} Known keys: {', '.join(REGISTRY)}."
        ) from None


def _check_count(name: str, n: int | None) -> None:
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise ValueError(f"{name} must be a non-negative integer or None, got {n!r}")


def _limit(cols: dict[str, list], limit: int | None) -> dict[str, list]:
    _check_count("limit", limit)
    return cols if limit is None else {c: v[:limit] for c, v in cols.items()}


def _sample(cols: dict[str, list], n: int | None) -> dict[str, list]:
    """n questions evenly spread over the file (every article represented), in file order."""
    _check_count("sample", n)
    total = len(cols["id"])
    if n is None or n >= total:
        return cols
    keep = [i * total // n for i in range(n)]
    return {c: [v[i] for i in keep] for c, v in cols.items()}


def _subset(cols: dict[str, list], subset: str | None) -> dict[str, list]:
    if subset is None:
        return cols
    if subset != "answerable":
        raise ValueError(f"unknown subset {subset!r}")
    keep = [i for i, a in enumerate(cols["answers"]) if a["text"]]
    return {c: [v[i] for i in keep] for c, v in cols.items()}


def _load_from_hub(spec: DatasetSpec) -> datasets.Dataset:
    """Download (or take from the local HF cache) one split of a hub dataset.

    The dataset viewer's `/info` is not asked: for every main-branch load `datasets` calls it on
    another host (datasets-server.<hub>) with a 100 s time-out, so a network that lets the hub
    through but not that host stalls each load for 100 s; the repos' own README (`configs`,
    `dataset_info`) says what the viewer would, and the split sizes are still checked against it."""
    datasets.config.USE_PARQUET_EXPORT = False
    return datasets.load_dataset(spec.hub_id, spec.hub_config, revision=spec.hub_revision,
                                 data_dir=spec.hub_data_dir, split=spec.split)


def hub_source(key: str) -> dict[str, Any]:
    """Where `key` comes from on the hub, with the commit its revision resolves to now (None when
    the hub cannot be asked), for provenance."""
    spec = get_spec(key)
    return hub.source(spec.hub_id, "dataset", spec.hub_revision, config=spec.hub_config,
                      data_dir=spec.hub_data_dir, split=spec.split)


def _hub_failure(spec: DatasetSpec, err: BaseException) -> str:
    """What went wrong on the hub, in words, naming the repo and revision."""
    names = hub.error_names(err)
    text = str(err)
    if "RevisionNotFoundError" in names:
        if spec.hub_revision == PARQUET_EXPORT:
            return (f"{spec.hub_id} has no parquet export (no revision {PARQUET_EXPORT}), and its main branch is a "
                    f"loading script, which datasets >= 4 does not run")
        return f"{spec.hub_id} has no revision {spec.hub_revision!r}"
    if hub.xet_failure(err):
        return hub.xet_failure(err)
    if hub.invalid_token(err):
        return hub.INVALID_TOKEN
    if "RepositoryNotFoundError" in names:
        return f"there is no dataset repo {spec.hub_id!r} on the hub (renamed or removed?)"
    if names & {"NonMatchingSplitsSizesError", "ExpectedMoreSplitsError", "UnexpectedSplitsError"}:
        return (f"{spec.hub_id}@{spec.hub_revision}: the rows read do not match the split sizes its README's "
                f"dataset_info declares ({hub.one_line(err, 160)}); the repo changed during the download? Run "
                f"again (the cache is kept), else report it to the repo")
    if "Dataset scripts are no longer supported" in text:
        return f"{spec.hub_id}@{spec.hub_revision} is a loading-script repo, which datasets >= 4 does not run"
    if spec.hub_data_dir and ("FileNotFoundError" in names or "DataFilesNotFoundError" in names
                              or "EmptyDatasetError" in names):
        return f"{spec.hub_id}@{spec.hub_revision} has no data files under {spec.hub_data_dir}/"
    if hub.unreachable(err):
        return hub.failure(err)
    return hub.one_line(err, 200)


def _hub_columns(ds: Any, spec: DatasetSpec, repair_answers: bool) -> tuple[dict[str, list], dict[str, int]]:
    """Normalise a hub split to the example schema, validating it like a file."""
    source = f"hub dataset {spec.hub_ref}"
    names = list(getattr(ds, "column_names", None) or [])
    missing = [c for c in ("id", "context", "question", "answers") if c not in names]
    if missing:
        raise DataError(source, [f"missing column(s) {', '.join(missing)}; columns are {', '.join(names)}"])
    keep = [c for c in COLUMNS if c in names]
    raw = ds.select_columns(keep).to_dict()
    n = len(raw["id"])
    raw_titles = raw.get("title") or [""] * n
    chk = Checker(source, repair_answers)
    cols = empty_columns()
    n_unanswerable = 0
    for i in range(n):
        where = f"row {i}"
        qid = raw["id"][i]
        qid = str(qid) if qid is not None and not isinstance(qid, str) else qid
        qid = chk.check_id(qid, where)
        label = f"question id {qid!r} at {where}" if qid is not None else f"{where} (no id)"
        context = raw["context"][i]
        if not isinstance(context, str) or not context.strip():
            chk.problems.append(f"{label}: context is empty or whitespace only")
            continue
        ans = raw["answers"][i] or {}
        texts, starts = list(ans.get("text") or []), list(ans.get("answer_start") or [])
        checked = chk.check_question(label, context, raw["question"][i], texts, starts, None, require_answer=False)
        if checked is None or qid is None:
            continue
        cols["id"].append(qid)
        cols["title"].append(raw_titles[i] or "")
        cols["context"].append(context)
        cols["question"].append(raw["question"][i])
        cols["answers"].append({"text": checked[0], "answer_start": checked[1]})
        n_unanswerable += not checked[0]
    chk.raise_if_problems()
    counts = {
        "articles": len(set(cols["title"])),
        "paragraphs": len(set(zip(cols["title"], cols["context"]))),
        "questions": len(cols["id"]),
        "unanswerable": n_unanswerable,
        "repaired": chk.repaired,
    }
    return cols, counts


def local_file(key: str, data_dir: str | os.PathLike | None = None) -> Path | None:
    """The local file `load_examples(key, data_dir)` reads, or None when it would go to the hub."""
    spec = get_spec(key)
    folder = paths.data_dir(data_dir)
    if folder is None:
        return None
    path = spec.local_path(folder)
    return path if path.is_file() else None


def _looks_like_path(source: str) -> bool:
    return source.endswith(".json") or os.sep in source or "/" in source or Path(source).exists()


def load_examples(
    source: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    *,
    repair_answers: bool = False,
    limit: int | None = None,
    sample: int | None = None,
) -> datasets.Dataset:
    """Examples of a registry key or of a SQuAD JSON file, in the example schema.

    Order: an explicit path; else `<data_dir or $QAREPRO_DATA_DIR>/<spec.filename>`; else the
    hub (`datasets.load_dataset(hub_id, hub_config, split=split)`); else `DataSourceError`.
    `limit` keeps the first N questions in file order (after the whole source is validated);
    `sample` keeps N questions evenly spread over the file (deterministic), for scaled-down runs.
    """
    _check_count("limit", limit)  # validate early
    _check_count("sample", sample)
    subset = None
    if isinstance(source, os.PathLike) or (isinstance(source, str) and source not in REGISTRY and _looks_like_path(source)):
        path = Path(source).expanduser()
        if not path.is_file():
            raise DataSourceError(f"Dataset file {str(path)!r} does not exist (or is not a file).")
        cols, counts = read_file(path, repair_answers)
        origin = str(path)
    else:
        spec = get_spec(str(source))
        subset = spec.subset
        folder = paths.data_dir(data_dir)
        local = local_file(spec.key, data_dir)
        if local is not None:
            log.info("%s: reading local file %s", spec.key, local)
            cols, counts = read_file(local, repair_answers)
            origin = f"{spec.key} ({local})"
        else:
            try:
                ds = _load_from_hub(spec)
            except Exception as err:  # noqa: BLE001 - any hub failure ends in one clear message
                raise DataSourceError(_source_message(spec, data_dir, folder, err)) from err
            log.info("%s: loaded from the hub (%s)", spec.key, spec.hub_ref)
            cols, counts = _hub_columns(ds, spec, repair_answers)
            origin = f"{spec.key} (hub {spec.hub_ref})"
    cols = _subset(cols, subset)
    total = len(cols["id"])
    cols = _limit(_sample(cols, sample), limit)
    log_counts(origin, counts, kept=len(cols["id"]) if len(cols["id"]) < total or subset else None)
    return to_dataset(cols)


def _source_message(spec: DatasetSpec, data_dir: Any, folder: Path | None, err: BaseException) -> str:
    """One paragraph: what failed on the hub, what was looked for locally, and what to do."""
    if folder is None:
        local = f"no local data folder is set ({paths.DATA_DIR_ENV} or data_dir)"
    else:
        origin = "data_dir" if data_dir not in (None, "") else f"${paths.DATA_DIR_ENV}"
        state = "" if folder.is_dir() else ", which does not exist"
        local = f"no {spec.filename} in {folder} ({origin}{state})"
    todo = [hub.fix(err)] if hub.unreachable(err) else []
    supply = (f"put the official SQuAD JSON file, named {spec.filename!r}, in a folder and set "
              f"{paths.DATA_DIR_ENV} to it (or pass its path)")
    if spec.original:
        supply += f"; the original is published at {spec.original}"
    todo.append(supply)
    return (f"Cannot load dataset {spec.key!r} from the hub ({spec.hub_ref}): {_hub_failure(spec, err)}; and "
            f"{local}. To fix: {', or '.join(todo)}.")
