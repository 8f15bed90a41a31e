"""Running a stage: the preflight (what it needs, checked first), the offline switch, the kernel,
and papermill.

`run_stage` executes a notebook, renders its reports and only then moves the stage's metrics
JSON onto the make target, so a failed or interrupted stage leaves no target behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlparse

import datasets.config
import huggingface_hub.constants
from huggingface_hub import try_to_load_from_cache
from ipykernel.kernelspec import install as install_kernel

from .. import data as qdata
from .. import hub, paths, provenance
from .. import io as qio
from .. import models as qmodels
from ..distill_config import load_distill_config
from ..report import render_notebook
from .layout import PipelineError, data_dir, resolve_model, results_dir, short_path, target
from .profile import TINY_PREFIX, CardPlan, Profile, profile_fingerprint, required_datasets
from .stage import PER_CARD_STAGES, QUIET_ENV, STAGE_OUTPUT_ENV

# --------------------------------------------------------------------------------------------
# Preflight: what a stage needs, checked before the notebook starts


def hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True", "YES", "yes"):
        return False
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # behind a proxy a direct connection proves nothing; let the libraries try
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout=timeout).close()
        return True
    except OSError:
        return False


def go_offline() -> None:
    """No hub: make the libraries fail at once (local caches still work) instead of retrying for
    minutes. Sets the environment (for notebook kernels) and the libraries' own switches."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ[var] = "1"
    # the libraries copied the environment when imported: set their own switches too
    huggingface_hub.constants.HF_HUB_OFFLINE = True
    datasets.config.HF_HUB_OFFLINE = True
    datasets.config.HF_DATASETS_OFFLINE = True


def preflight(profile: Profile, stage: str, not_run: dict[str, str] | None = None) -> list[str]:
    """Problems that would stop `stage` (each says what is missing and how to supply it). A
    secondary evaluation set that cannot be had does not stop 01_data_prep: it goes into
    `not_run` (key -> why), and the run reports it "not run"."""
    problems: list[str] = []
    try:
        data_dir(profile)  # the profile's own data files exist
    except PipelineError as err:
        return [str(err)]
    if stage in ("01_data_prep", "02_teachers", "03_distill", "05_ablations"):
        keys = profile.datasets() if stage == "01_data_prep" else profile.train_datasets()
        required, unavailable = required_datasets(profile), set()
        for key, why in dataset_problems(profile, keys, unavailable).items():
            if key in required or key not in unavailable or not_run is None:  # bad rows or a moved repo stop it
                problems.append(why)
            else:
                not_run[key] = why
    refs: list[tuple[str, str, str | None, str | None]] = []
    for card, plan in profile.plans.items():
        student, student_revision, teacher_revision, family = _card_models(card, plan)
        if stage == "02_teachers" and not plan.teacher.startswith(TINY_PREFIX):
            refs.append((f"teacher of {card}", plan.teacher, teacher_revision, None))
        if stage in ("03_distill", "02_teachers") and student and not student.startswith(TINY_PREFIX):
            refs.append((f"student of {card}", student, student_revision, family))
        if stage in ("04_evaluate", "verify") and plan.published:
            refs.append((f"published checkpoint of {card}", plan.published, None, None))
    for what, ref, revision, family in dict.fromkeys(refs):
        where = resolve_model(ref, profile)
        msg = _check_model(where, revision) or (qmodels.legacy_problem(where, revision, family)
                                                if hub_reachable() or qmodels.is_local(where) else None)
        if msg:
            problems.append(f"{what}: {msg}")
    return problems


def _card_models(card: str, plan: CardPlan) -> tuple[str | None, str | None, str | None, str | None]:
    """(student, student revision, teacher revision, student family) a card runs with under this plan."""
    cfg = load_distill_config(plan.distill_config or card, plan.overrides)
    return plan.student or cfg.student, cfg.student_revision, cfg.teacher_revision, cfg.student_family


def dataset_problems(profile: Profile, keys: Sequence[str], unavailable: set[str] | None = None) -> dict[str, str]:
    """{key: why it cannot be loaded} for the datasets among `keys` that no source can give;
    `unavailable` gets the keys that no source has at all (the hub answered it has none: not bad rows,
    a moved repo or a hub that could not be asked)."""
    folder = data_dir(profile)
    out = {}
    for key in keys:
        spec = qdata.REGISTRY[key]
        if qdata.local_file(key, folder) is not None:  # the profile's folder or $QAREPRO_DATA_DIR has it
            continue
        try:
            qdata.load_examples(key, folder, limit=1)
        except qdata.DataSourceError as err:
            out[key] = str(err)
            if unavailable is not None and qdata.absent(err):
                unavailable.add(key)
            continue
        except qdata.DataError as err:
            out[key] = f"dataset {key}: {err}"
            continue
        moved = hub.check_repo(spec.hub_id, "dataset", spec.hub_revision) if hub_reachable() else None
        if moved:
            out[key] = f"dataset {key}: {moved} (the registry in qarepro/data.py names it)"
    return out


def _check_model(ref: str, revision: str | None = None) -> str | None:
    """None if model `ref` can be loaded from here, else what is wrong and how to supply it."""
    if ref.startswith(qmodels.PACKAGE_PREFIX):
        try:
            qmodels.package_model_dir(ref[len(qmodels.PACKAGE_PREFIX):])
            return None
        except qmodels.ModelSourceError as err:
            return str(err)
    if Path(ref).expanduser().is_dir():
        return None if (Path(ref) / "config.json").is_file() else f"{ref} holds no config.json"
    if hub_reachable():
        return hub.check_repo(ref, "model", revision)
    try:
        if isinstance(try_to_load_from_cache(ref, "config.json", revision=revision), str):
            return None
    except Exception:  # noqa: BLE001 - any failure means "not cached"
        pass
    return (f"model {ref!r} is not a local directory, not in the Hugging Face cache, and the hub cannot be "
            f"reached. Download it where there is network (`hf download {ref} --local-dir DIR`) "
            f"and set its entry in the profile to DIR, or run with network access.")


# --------------------------------------------------------------------------------------------
# Runner


def ensure_kernel() -> None:
    """A `python3` kernelspec that runs this interpreter, found before any other one."""
    prefix_share = Path(sys.prefix) / "share" / "jupyter"
    spec = prefix_share / "kernels" / "python3" / "kernel.json"
    ok = False
    if spec.is_file():
        with contextlib.suppress(Exception):
            ok = Path(json.loads(spec.read_text())["argv"][0]).resolve() == Path(sys.executable).resolve()
    if not ok:
        install_kernel(kernel_name="python3", prefix=sys.prefix)
    paths_ = [str(prefix_share), *filter(None, os.environ.get("JUPYTER_PATH", "").split(os.pathsep))]
    os.environ["JUPYTER_PATH"] = os.pathsep.join(dict.fromkeys(paths_))


def notebook_path(stage: str) -> Path:
    return paths.NOTEBOOKS / f"{stage}.ipynb"


def say(msg: str) -> None:
    """A runner's progress line, on stderr."""
    print(f"[qarepro] {msg}", file=sys.stderr, flush=True)


def run_notebook(stage: str, profile: Profile, card: str | None = None, *, timeout: int | None = None) -> Path:
    """Execute one notebook with papermill; render its reports; then move its metrics JSON onto
    the target. Any failure leaves no target (and the failed notebook under executed/<p>/failed/)."""
    import papermill as pm  # deferred: papermill (with nbclient) is slow to import; only running needs it

    name = stage + (f"-{card}" if card else "")
    tgt = target(profile.name, stage, card)
    executed = paths.executed(profile.name) / f"{name}.ipynb"
    failed = paths.executed(profile.name) / "failed" / f"{name}.ipynb"
    staging = results_dir(profile.name) / ".staging" / f"{name}.json"
    reports = [paths.reports(profile.name) / f"{name}.html", paths.reports(profile.name) / f"{name}.full.html"]
    for p in (tgt, staging, executed, failed, *reports):  # nothing of an earlier run survives a failure
        p.unlink(missing_ok=True)
    executed.parent.mkdir(parents=True, exist_ok=True)
    tmp_nb = executed.with_name(f".{name}.running.ipynb")
    tmp_nb.unlink(missing_ok=True)  # left by a run that was killed outright
    params: dict[str, Any] = {"profile": profile.name}
    if card:
        params["card"] = card
    kernel_environment()
    env_backup = os.environ.get(STAGE_OUTPUT_ENV)
    os.environ[STAGE_OUTPUT_ENV] = str(staging)
    t0 = time.perf_counter()
    say(f"{profile.name}: running {name} ...")
    try:
        pm.execute_notebook(str(notebook_path(stage)), str(tmp_nb), parameters=params, kernel_name="python3",
                            progress_bar=False, cwd=str(paths.NOTEBOOKS), execution_timeout=timeout)
        if not staging.is_file():
            raise PipelineError(f"{stage} finished without writing its metrics JSON (pipeline.finish was not called)")
        shutil.move(str(tmp_nb), executed)
        render_notebook(executed, paths.reports(profile.name), name)
        os.replace(staging, tgt)
    except BaseException as err:
        staging.unlink(missing_ok=True)
        tgt.unlink(missing_ok=True)
        if tmp_nb.exists():
            failed.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(tmp_nb), failed)
        if isinstance(err, pm.PapermillExecutionError):
            raise PipelineError(f"{name} failed in cell {err.exec_count}: {err.ename}: {err.evalue}\n"
                                f"  the executed notebook is at {failed}") from None
        raise
    finally:
        if env_backup is None:
            os.environ.pop(STAGE_OUTPUT_ENV, None)
        else:
            os.environ[STAGE_OUTPUT_ENV] = env_backup
    say(f"{profile.name}: {name} done in {time.perf_counter() - t0:.0f} s -> {short_path(str(tgt))}")
    return tgt


def kernel_environment() -> None:
    """The environment a notebook kernel inherits: the libraries quiet, and this checkout's qarepro
    first on the path (a second checkout's code, not whichever the editable install points at)."""
    for var, val in QUIET_ENV:
        os.environ.setdefault(var, val)
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(paths.ROOT)]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(paths.ROOT), *parts])


def run_stage(stage: str, profile: Profile, card: str | None = None, *, force: bool = False) -> Path:
    """Run a stage; 03_distill without a card runs every card (skipping finished ones) and then
    writes the stage index."""
    if card is not None and stage not in PER_CARD_STAGES:
        raise PipelineError(f"{stage} runs once for all cards; --card is only for {', '.join(PER_CARD_STAGES)}")
    if stage in PER_CARD_STAGES and card is None:
        index: dict[str, Any] = {"stage": stage, "profile": profile.name,
                                 "profile_fingerprint": profile_fingerprint(profile), "cards": {}}
        for c in profile.cards:
            t = target(profile.name, stage, c)
            if force or not t.is_file():
                run_notebook(stage, profile, c)
            else:
                say(f"{profile.name}: {stage}-{c} already done ({short_path(str(t))})")
            index["cards"][c] = str(t)
        index["provenance"] = provenance.collect(profile=profile.to_dict())
        return qio.write_json(target(profile.name, stage), paths.portable(index))
    return run_notebook(stage, profile, card)


def require_preflight(profile: Profile, stage: str) -> None:
    """Exit with status 2, listing what is missing, unless `stage` has everything it needs; list
    the secondary evaluation sets that will be reported "not run" (and go on)."""
    not_run: dict[str, str] = {}
    problems = preflight(profile, stage, not_run)
    if not_run:
        lines = [f"qarepro: {stage} for profile {profile.name!r}: {len(not_run)} evaluation set(s) cannot be had "
                 f"and will be reported as not run (the run goes on):"]
        lines += [f"  (not run) {why}" for why in not_run.values()]
        print("\n".join(lines), file=sys.stderr)
    if problems:
        lines = [f"qarepro: cannot run {stage} for profile {profile.name!r}: {len(problems)} missing input(s)."]
        lines += [f"  - {p}" for p in problems]
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2)
