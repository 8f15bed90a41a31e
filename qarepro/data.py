"""QA examples: the dataset registry, validated SQuAD JSON reading, and the example schema.

Every dataset the two model cards are scored on is a key of `REGISTRY`. `load_examples` finds
it, in this order: an explicit file path, then `<data_dir or $QAREPRO_DATA_DIR>/<filename>`,
then the Hugging Face hub; when none of these works it raises `DataSourceError`, which says
what was looked for where and how to fix it.

Whatever the source, the result is a `datasets.Dataset` with the Hugging Face `squad` schema
(see `FEATURES`): one row per question, unanswerable questions having empty answer lists.

Files are validated while they are read. Any problem (malformed JSON, a missing field, a
duplicate id, a blank context or question, an answer whose text is not at its answer_start,
an is_impossible flag that contradicts the answers) raises `DataError`, which names the file,
the question id and its place in the file (`data[a].paragraphs[p].qas[q]`). Nothing is ever
dropped silently. With `repair_answers=True` a misplaced answer is moved to the occurrence of
its text nearest the given offset, and each repair is logged with the question id.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa

from qarepro import hub, paths

log = logging.getLogger("qarepro.data")

COLUMNS = ("id", "title", "context", "question", "answers")

FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),
        "title": datasets.Value("string"),
        "context": datasets.Value("string"),
        "question": datasets.Value("string"),
        "answers": {
            "text": datasets.List(datasets.Value("string")),
            "answer_start": datasets.List(datasets.Value("int32")),
        },
    }
)

# How many problems a DataError message lists before it summarises the rest.
MAX_LISTED_PROBLEMS = 20


class DataError(ValueError):
    """A dataset file (or hub split) is not valid SQuAD data. `problems` lists every finding."""

    def __init__(self, source: str, problems: Sequence[str]):
        self.source = source
        self.problems = list(problems)
        shown = self.problems[:MAX_LISTED_PROBLEMS]
        if len(self.problems) == 1:
            message = f"{source}: {shown[0]}"
        else:
            lines = [f"{source}: {len(self.problems)} problems found:"]
            lines += [f"  - {p}" for p in shown]
            if len(self.problems) > len(shown):
                lines.append(f"  ... and {len(self.problems) - len(shown)} more")
            message = "\n".join(lines)
        super().__init__(message)


class DataSourceError(RuntimeError):
    """A dataset could not be found anywhere: no usable local file and no hub."""


# --------------------------------------------------------------------------------------------
# Registry


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


# --------------------------------------------------------------------------------------------
# Validation


def _place(a: int, p: int | None = None, q: int | None = None) -> str:
    s = f"data[{a}]"
    if p is not None:
        s += f".paragraphs[{p}]"
    if q is not None:
        s += f".qas[{q}]"
    return s


def _short(text: str, n: int = 60) -> str:
    return repr(text if len(text) <= n else text[: n - 3] + "...")


def _nearest_occurrence(context: str, text: str, start: int) -> int | None:
    """Offset of the occurrence of `text` in `context` nearest `start` (the earlier on a tie)."""
    best = None
    i = context.find(text)
    while i != -1:
        if best is None or abs(i - start) < abs(best - start):
            best = i
        if i >= start:
            break  # every later occurrence is farther away
        i = context.find(text, i + 1)
    return best


class _Checker:
    """Collects problems and repairs across one source; checks one question at a time."""

    def __init__(self, source: str, repair_answers: bool):
        self.source = source
        self.repair = repair_answers
        self.problems: list[str] = []
        self.first_seen: dict[str, str] = {}
        self.repaired = 0

    def check_id(self, qid: Any, where: str) -> str | None:
        """Validate an id; returns the label naming the question in messages."""
        if not isinstance(qid, str):
            self.problems.append(f"{where}: field 'id' must be a string, got {type(qid).__name__} {qid!r}")
            return None
        if not qid.strip():
            self.problems.append(f"{where} (no id): field 'id' is empty")
            return None
        if qid in self.first_seen:
            self.problems.append(f"question id {qid!r} at {where}: duplicate id (first at {self.first_seen[qid]})")
        else:
            self.first_seen[qid] = where
        return qid

    def check_question(
        self,
        label: str,
        context: str,
        question: Any,
        texts: list[Any],
        starts: list[Any],
        is_impossible: Any,
        require_answer: bool,
    ) -> tuple[list[str], list[int]] | None:
        """Check one question; returns the (possibly repaired) answers, or None on a problem."""
        ok = True
        if not isinstance(question, str):
            self.problems.append(f"{label}: field 'question' must be a string, got {type(question).__name__}")
            ok = False
        elif not question.strip():
            self.problems.append(f"{label}: question is empty or whitespace only")
            ok = False
        if is_impossible is not None and not isinstance(is_impossible, bool):
            self.problems.append(f"{label}: field 'is_impossible' must be true or false, got {is_impossible!r}")
            return None
        if is_impossible is True and texts:
            self.problems.append(f"{label}: is_impossible is true but the question has {len(texts)} answer(s)")
            ok = False
        elif is_impossible is False and not texts:
            self.problems.append(f"{label}: is_impossible is false but the question has no answers")
            ok = False
        elif is_impossible is None and require_answer and not texts:
            self.problems.append(
                f"{label}: the question has no answers and no is_impossible flag (without the flag a question "
                f"is answerable; mark unanswerable questions with \"is_impossible\": true)"
            )
            ok = False
        if len(texts) != len(starts):
            self.problems.append(f"{label}: {len(texts)} answer texts but {len(starts)} answer_start values")
            return None
        new_texts: list[str] = []
        new_starts: list[int] = []
        for k, (text, start) in enumerate(zip(texts, starts)):
            what = f"{label}: answers[{k}]"
            if not isinstance(text, str):
                self.problems.append(f"{what}: field 'text' must be a string, got {type(text).__name__}")
                ok = False
                continue
            if isinstance(start, bool) or not isinstance(start, int):
                self.problems.append(f"{what}: field 'answer_start' must be an integer, got {start!r}")
                ok = False
                continue
            if not text.strip():
                self.problems.append(f"{what}: answer text is empty or whitespace only")
                ok = False
                continue
            if start >= 0 and context[start : start + len(text)] == text:
                new_texts.append(text)
                new_starts.append(start)
                continue
            if 0 <= start < len(context):
                there = f"the context there reads {_short(context[start : start + len(text)])}"
            else:
                there = f"outside the {len(context)}-character context"
            if not self.repair:
                self.problems.append(
                    f"{what}: answer {_short(text)} is not at answer_start {start} ({there}); "
                    f"pass repair_answers=True to relocate answers by search"
                )
                ok = False
                continue
            moved = _nearest_occurrence(context, text, start)
            if moved is None:
                self.problems.append(
                    f"{what}: answer {_short(text)} is not at answer_start {start} and does not occur anywhere "
                    f"in the context, so it cannot be repaired"
                )
                ok = False
                continue
            self.repaired += 1
            log.info("%s: %s: repaired answer %s: answer_start %d -> %d", self.source, label, _short(text), start, moved)
            new_texts.append(text)
            new_starts.append(moved)
        return (new_texts, new_starts) if ok else None

    def raise_if_problems(self) -> None:
        if self.problems:
            raise DataError(self.source, self.problems)


def _empty_columns() -> dict[str, list]:
    return {c: [] for c in COLUMNS}


def _first_id(paragraphs: Any) -> str:
    """' (first question id ...)' for messages about an article or paragraph, if there is one."""
    if isinstance(paragraphs, list):
        for para in paragraphs:
            qas = para.get("qas") if isinstance(para, dict) else None
            if isinstance(qas, list):
                for qa in qas:
                    if isinstance(qa, dict) and "id" in qa:
                        return f" (first question id {qa['id']!r})"
    return ""


def _parse_squad(obj: Any, source: str, repair_answers: bool) -> tuple[dict[str, list], dict[str, int]]:
    """Validate an official-format SQuAD object; return columns and counts."""
    if not isinstance(obj, dict) or "data" not in obj:
        raise DataError(source, ['missing top-level "data" (an official SQuAD file is {"version": ..., "data": [...]})'])
    data = obj["data"]
    if not isinstance(data, list):
        raise DataError(source, [f'top-level "data" must be a list of articles, got {type(data).__name__}'])
    chk = _Checker(source, repair_answers)
    problems = chk.problems
    cols = _empty_columns()
    ids, titles, contexts, questions, answers = (cols[c] for c in COLUMNS)
    n_paragraphs = n_unanswerable = 0
    empty_paragraphs: list[str] = []
    for a, article in enumerate(data):
        if not isinstance(article, dict):
            problems.append(f"{_place(a)}: an article must be an object, got {type(article).__name__}")
            continue
        where_a = _place(a) + _first_id(article.get("paragraphs"))
        missing = [f for f in ("title", "paragraphs") if f not in article]
        if missing:
            problems.append(f"{where_a}: article is missing field(s) {', '.join(repr(m) for m in missing)}")
            if "paragraphs" in missing:
                continue
        title = article.get("title", "")
        if not isinstance(title, str):
            problems.append(f"{where_a}: field 'title' must be a string, got {type(title).__name__}")
        paragraphs = article["paragraphs"]
        if not isinstance(paragraphs, list):
            problems.append(f"{_place(a)}: field 'paragraphs' must be a list, got {type(paragraphs).__name__}")
            continue
        if not paragraphs:
            empty_paragraphs.append(_place(a))
        for p, para in enumerate(paragraphs):
            n_paragraphs += 1
            where_p = _place(a, p)
            if not isinstance(para, dict):
                problems.append(f"{where_p}: a paragraph must be an object, got {type(para).__name__}")
                continue
            qas = para.get("qas")
            first = _first_id([para])
            missing = [f for f in ("context", "qas") if f not in para]
            if missing:
                problems.append(f"{where_p}{first}: paragraph is missing field(s) {', '.join(repr(m) for m in missing)}")
                continue
            context = para["context"]
            context_ok = isinstance(context, str) and bool(context.strip())
            if not isinstance(context, str):
                problems.append(f"{where_p}{first}: field 'context' must be a string, got {type(context).__name__}")
            elif not context_ok:
                problems.append(f"{where_p}{first}: context is empty or whitespace only")
            if not isinstance(qas, list):
                problems.append(f"{where_p}: field 'qas' must be a list, got {type(qas).__name__}")
                continue
            if not qas:
                empty_paragraphs.append(where_p)
            for q, qa in enumerate(qas):
                where = _place(a, p, q)
                if not isinstance(qa, dict):
                    problems.append(f"{where}: a question must be an object, got {type(qa).__name__}")
                    continue
                qid = chk.check_id(qa["id"], where) if "id" in qa else None
                label = f"question id {qid!r} at {where}" if qid is not None else f"{where} (no id)"
                missing = [f for f in ("id", "question", "answers") if f not in qa]
                if missing:
                    problems.append(f"{label}: question is missing field(s) {', '.join(repr(m) for m in missing)}")
                    continue
                raw = qa["answers"]
                if not isinstance(raw, list):
                    problems.append(f"{label}: field 'answers' must be a list, got {type(raw).__name__}")
                    continue
                texts, starts, bad = [], [], False
                for k, ans in enumerate(raw):
                    if not isinstance(ans, dict) or "text" not in ans or "answer_start" not in ans:
                        problems.append(f"{label}: answers[{k}] must be an object with fields 'text' and 'answer_start'")
                        bad = True
                        continue
                    texts.append(ans["text"])
                    starts.append(ans["answer_start"])
                if bad or not context_ok or qid is None:
                    continue
                checked = chk.check_question(
                    label, context, qa["question"], texts, starts, qa.get("is_impossible"), require_answer=True
                )
                if checked is None:
                    continue
                ids.append(qid)
                titles.append(title)
                contexts.append(context)
                questions.append(qa["question"])
                answers.append({"text": checked[0], "answer_start": checked[1]})
                n_unanswerable += not checked[0]
    chk.raise_if_problems()
    if empty_paragraphs:
        log.warning(
            "%s: %d article(s)/paragraph(s) hold no questions and so give no examples: %s",
            source, len(empty_paragraphs), ", ".join(empty_paragraphs[:10]) + (" ..." if len(empty_paragraphs) > 10 else ""),
        )
    counts = {
        "articles": len(data),
        "paragraphs": n_paragraphs,
        "questions": len(ids),
        "unanswerable": n_unanswerable,
        "repaired": chk.repaired,
    }
    return cols, counts


def _read_file(path: str | os.PathLike, repair_answers: bool) -> tuple[dict[str, list], dict[str, int]]:
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(source, [f"not UTF-8 text ({err.reason} at byte {err.start})"]) from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(source, [f"malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}"]) from None
    return _parse_squad(obj, source, repair_answers)


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


def _to_dataset(cols: dict[str, list]) -> datasets.Dataset:
    """Columns -> Dataset with `FEATURES`, built column-wise in Arrow (3x faster than from_dict)."""
    answers = cols["answers"]
    struct = pa.StructArray.from_arrays(
        [
            pa.array([a["text"] for a in answers], type=pa.list_(pa.string())),
            pa.array([a["answer_start"] for a in answers], type=pa.list_(pa.int32())),
        ],
        names=["text", "answer_start"],
    )
    arrays = {c: pa.array(cols[c], type=pa.string()) for c in ("id", "title", "context", "question")}
    table = pa.table({**arrays, "answers": struct}, schema=FEATURES.arrow_schema)
    return datasets.Dataset(table, info=datasets.DatasetInfo(features=FEATURES))


def _log_counts(source: str, counts: dict[str, int], kept: int | None = None) -> None:
    log.info(
        "%s: %d articles, %d paragraphs, %d questions (%d unanswerable), %d answers repaired%s",
        source, counts["articles"], counts["paragraphs"], counts["questions"], counts["unanswerable"],
        counts["repaired"], "" if kept is None else f"; limit: kept the first {kept}",
    )
    if counts["repaired"]:
        log.warning("%s: %d answer(s) were not at their answer_start and were relocated by search",
                    source, counts["repaired"])


def read_squad_json(path: str | os.PathLike, *, repair_answers: bool = False) -> datasets.Dataset:
    """Read and validate an official SQuAD 1.1/2.0 JSON file (see the module docstring)."""
    cols, counts = _read_file(path, repair_answers)
    _log_counts(str(path), counts)
    return _to_dataset(cols)


# --------------------------------------------------------------------------------------------
# Loading: path -> local folder -> hub


def _load_from_hub(spec: DatasetSpec) -> datasets.Dataset:
    """Download (or take from the local HF cache) one split of a hub dataset."""
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
    if "RepositoryNotFoundError" in names:
        return f"there is no dataset repo {spec.hub_id!r} on the hub (renamed or removed?)"
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
    chk = _Checker(source, repair_answers)
    cols = _empty_columns()
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
        cols, counts = _read_file(path, repair_answers)
        origin = str(path)
    else:
        spec = get_spec(str(source))
        subset = spec.subset
        folder = paths.data_dir(data_dir)
        local = local_file(spec.key, data_dir)
        if local is not None:
            log.info("%s: reading local file %s", spec.key, local)
            cols, counts = _read_file(local, repair_answers)
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
    _log_counts(origin, counts, kept=len(cols["id"]) if len(cols["id"]) < total or subset else None)
    return _to_dataset(cols)


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


# --------------------------------------------------------------------------------------------
# Back to the official format, fingerprints, counts


def _columns(examples: Any, names: Sequence[str]) -> dict[str, list]:
    if isinstance(examples, datasets.Dataset):
        return examples.select_columns(list(names)).to_dict()
    if isinstance(examples, Mapping):
        return {n: list(examples[n]) for n in names}
    rows = list(examples)
    return {n: [r[n] for r in rows] for n in names}


def to_squad_json(examples: Any, version: str = "v2.0") -> dict:
    """Examples in the official SQuAD JSON format: consecutive rows with the same title form an
    article, consecutive rows of an article with the same context a paragraph (order kept)."""
    cols = _columns(examples, COLUMNS)
    data: list[dict] = []
    article: dict | None = None
    paragraph: dict | None = None
    for qid, title, context, question, ans in zip(*(cols[c] for c in COLUMNS)):
        if article is None or article["title"] != title:
            article = {"title": title, "paragraphs": []}
            data.append(article)
            paragraph = None
        if paragraph is None or paragraph["context"] != context:
            paragraph = {"context": context, "qas": []}
            article["paragraphs"].append(paragraph)
        texts, starts = list(ans["text"]), [int(s) for s in ans["answer_start"]]
        paragraph["qas"].append(
            {
                "id": qid,
                "question": question,
                "answers": [{"text": t, "answer_start": s} for t, s in zip(texts, starts)],
                "is_impossible": not texts,
            }
        )
    return {"version": version, "data": data}


def fingerprint(examples: Any) -> str:
    """Stable content hash (16 hex digits of sha256) of ids, contexts, questions and answers,
    in row order. Titles do not count. Same content, same value, in any process."""
    cols = _columns(examples, ("id", "context", "question", "answers"))
    h = hashlib.sha256(b"qarepro-examples-v1\n")
    context_digest: dict[str, str] = {}
    for qid, context, question, ans in zip(cols["id"], cols["context"], cols["question"], cols["answers"]):
        digest = context_digest.get(context)
        if digest is None:
            digest = context_digest[context] = hashlib.sha256(context.encode("utf-8")).hexdigest()
        row = [qid, digest, question, list(ans["text"]), [int(s) for s in ans["answer_start"]]]
        h.update(json.dumps(row, ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()[:16]


def describe(examples: Any) -> dict[str, int]:
    """Counts for provenance: questions, answerable, unanswerable, articles, paragraphs."""
    cols = _columns(examples, ("title", "context", "answers"))
    unanswerable = sum(1 for a in cols["answers"] if not a["text"])
    n = len(cols["answers"])
    return {
        "questions": n,
        "answerable": n - unanswerable,
        "unanswerable": unanswerable,
        "articles": len(set(cols["title"])),
        "paragraphs": len(set(zip(cols["title"], cols["context"]))),
    }
