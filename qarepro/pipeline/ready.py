"""Before the GPU: fetch everything a profile needs into the caches and check that it loads.

    qarepro preflight --profile full --download

Run on any CPU machine that reaches the hub, before renting a GPU. Every dataset of the profile
is downloaded and read through the strict loader (all its rows, validated as stage 01 reads
them); every model a card names (teacher, student, published checkpoint) is downloaded and
loaded with its tokenizer, and each card's student and teacher are checked to tokenise alike
(as 02 and 03 require). The result is a table of what is ready, what is missing and what to do,
with the total download size; a secondary evaluation set that cannot be had is "not run" (the
run goes on without it), anything else missing makes the exit status 2.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .. import data as qdata
from .. import models as qmodels
from ..distill_config import load_distill_config
from .layout import data_dir, resolve_model
from .profile import TINY_PREFIX, Profile, required_datasets

READY, MISSING, NOT_RUN = "ready", "missing", "not run"


@dataclass
class Item:
    kind: str      # dataset | model
    name: str      # registry key, or the model's role in a card
    source: str    # where it comes from (hub repo, local file)
    status: str    # ready | missing | not run
    detail: str    # counts, the model class, or what is wrong
    todo: str      # what to do ("" when ready)
    bytes: int     # on disk (the hub cache's blobs of its repo, or the local file)
    seconds: float


def _hub_sizes() -> dict[tuple[str, str], int]:
    """{(kind, repo id): bytes on disk} of the Hugging Face hub cache."""
    try:
        from huggingface_hub import scan_cache_dir  # deferred: reads HF_HOME when called

        return {(r.repo_type, r.repo_id): r.size_on_disk for r in scan_cache_dir().repos}
    except Exception:  # noqa: BLE001 - an empty or absent cache: nothing downloaded
        return {}


def _split_fix(message: str) -> tuple[str, str]:
    """(what is wrong, what to do) of a one-paragraph message with a "To fix:" part."""
    head, sep, fix = message.partition(" To fix: ")
    return head, fix.rstrip(".") if sep else ""


def _datasets(profile: Profile) -> list[Item]:
    folder = data_dir(profile)
    required = set(required_datasets(profile))
    items = []
    for key in profile.datasets():
        spec = qdata.REGISTRY[key]
        local = qdata.local_file(key, folder)
        source = str(local) if local else f"{spec.hub_id}@{spec.hub_revision}"
        t0 = time.perf_counter()
        try:
            counts = qdata.describe(qdata.load_examples(key, folder))
        except (qdata.DataSourceError, qdata.DataError) as err:
            what, fix = _split_fix(str(err))
            secondary = key not in required and isinstance(err, qdata.DataSourceError) and qdata.absent(err)
            status = NOT_RUN if secondary else MISSING
            items.append(Item("dataset", key, source, status, what, fix or "see the message",
                              0, round(time.perf_counter() - t0, 1)))
            continue
        detail = f"{counts['questions']} questions ({counts['unanswerable']} unanswerable), strict loader"
        items.append(Item("dataset", key, source, READY, detail, "", local.stat().st_size if local else 0,
                          round(time.perf_counter() - t0, 1)))
    return items


def _models(profile: Profile) -> list[tuple[str, str, str | None, str | None]]:
    """(role, reference, revision, family) of every hub or local model the profile's cards name."""
    refs = []
    for card, plan in profile.plans.items():
        cfg = load_distill_config(plan.distill_config or card, plan.overrides)
        student = plan.student or cfg.student
        refs.append((f"teacher of {card}", plan.teacher, cfg.teacher_revision, None))
        if cfg.student_init == "pretrained" and student:
            refs.append((f"student of {card}", student, cfg.student_revision, cfg.student_family))
        if plan.published:
            refs.append((f"published checkpoint of {card}", plan.published, None, None))
    return [r for r in refs if r[1] and not r[1].startswith(TINY_PREFIX)]


def _load_models(profile: Profile) -> tuple[list[Item], list[Item]]:
    """(one item per model, one per card whose student and teacher must tokenise alike)."""
    from ..training_data import check_same_tokenization  # deferred: transformers

    items, tokenizers = [], {}
    for role, ref, revision, family in _models(profile):
        where = resolve_model(ref, profile)
        t0 = time.perf_counter()
        try:
            model = qmodels.load_qa_model(where, revision, family)
            tok = qmodels.load_tokenizer(where, revision, family)
        except qmodels.ModelSourceError as err:
            what, fix = _split_fix(str(err))
            items.append(Item("model", role, ref, MISSING, what, fix or "see the message", 0,
                              round(time.perf_counter() - t0, 1)))
            continue
        n = sum(p.numel() for p in model.parameters())
        built = " (config built as " + family + ": config.json has no model_type)" if (
            family and qmodels.source(where, revision, family).get("config_built_as")) else ""
        items.append(Item("model", role, ref, READY, f"{type(model).__name__}, {n / 1e6:.1f} M parameters, "
                          f"{type(tok).__name__} ({len(tok)} tokens){built}", "", 0, round(time.perf_counter() - t0, 1)))
        tokenizers[role] = tok
        del model
    checks = []
    for card in profile.plans:
        s, t = tokenizers.get(f"student of {card}"), tokenizers.get(f"teacher of {card}")
        if s is None or t is None:
            continue
        try:
            check_same_tokenization(s, t)
            checks.append(Item("check", f"{card}: student and teacher tokenise alike", "", READY,
                               "same vocabulary, special tokens and ids", "", 0, 0.0))
        except Exception as err:  # noqa: BLE001 - a DistillError: the card cannot distil with these two
            checks.append(Item("check", f"{card}: student and teacher tokenise alike", "", MISSING,
                               str(err).splitlines()[0], "pick a student that shares the teacher's tokenizer", 0, 0.0))
    return items, checks


def fetch_all(profile: Profile) -> dict[str, Any]:
    """Download and check everything `profile` needs; the record `table` prints."""
    t0 = time.perf_counter()
    items = _datasets(profile)
    models, checks = _load_models(profile)
    items += models + checks
    sizes = _hub_sizes()
    for it in items:  # a hub item's size: its repo in the hub cache
        if it.status == READY and not it.bytes:
            repo = it.source.split("@")[0] if it.kind == "dataset" else it.source
            it.bytes = sizes.get(("dataset" if it.kind == "dataset" else "model", repo), 0)
    repos = {(("dataset" if it.kind == "dataset" else "model"), it.source.split("@")[0] if it.kind == "dataset"
              else it.source) for it in items if it.kind in ("dataset", "model")}
    total = sum(sizes.get(r, 0) for r in repos) + sum(
        it.bytes for it in items if it.kind == "dataset" and it.status == READY and Path(it.source).is_file())
    counts = {s: sum(it.status == s for it in items) for s in (READY, MISSING, NOT_RUN)}
    return {"profile": profile.name, "counts": counts, "download_bytes": total,
            "seconds": round(time.perf_counter() - t0, 1), "items": [asdict(it) for it in items]}


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def table(record: dict[str, Any]) -> str:
    """The record as the command prints it: one line per item (a repo's size on its first line),
    then the totals."""
    rows = [("", "what", "from", "status", "in cache", "detail / what to do")]
    seen: set[str] = set()
    for it in record["items"]:
        detail = it["detail"].rstrip(".")
        note = detail if it["status"] == READY else f"{detail}. To do: {it['todo']}"
        repo = it["source"].split("@")[0]
        size = _size(it["bytes"]) if it["bytes"] and repo not in seen else ""
        seen.add(repo)
        rows.append((it["kind"], it["name"], it["source"], it["status"], size, note))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(5)) + "  " + r[5] for r in rows]
    c = record["counts"]
    lines.append("")
    lines.append(f"profile {record['profile']}: {c[READY]} ready, {c[MISSING]} missing, {c[NOT_RUN]} not run "
                 f"(secondary sets the run goes on without); download size {_size(record['download_bytes'])} "
                 f"in the Hugging Face cache; {record['seconds']:.0f} s")
    lines.append("ready for the GPU: " + ("yes" if not c[MISSING] else "no, see the lines marked missing"))
    return "\n".join(lines)
