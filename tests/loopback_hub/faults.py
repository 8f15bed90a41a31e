"""The faults a hub user can meet, each staged on a loopback hub and run through the real command
line (`python -m qarepro.pipeline ...`) in a child process, as a user would meet them.

`stage(name, repos, workdir)` returns a `FaultRun`: exit status, stderr, seconds, and whether the
stage target or a hub cache entry was left behind; `fixed(...)` reruns the same command against a
hub without the fault. Used by tests/test_hub.py and benchmarks/hub_faults.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from qarepro import paths

from . import repos as hub_repos
from .server import LoopbackHub, Repo

OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
PROFILE = "rehearsal"
STALLED = ("ludwigschmidt/squadshifts", "amazon/test/0000.parquet")
MISSING_COMMIT = "0" * 40
RENAMED_TEACHER = ("deepset/roberta-large-squad2", "deepset/roberta-large-squad2-moved")

ADVERSARIAL_KEY = "squad_adversarial-AddOneSent"

# name -> (what it stages, the command, what the message must name)
FAULTS = {
    "script_repo_without_export": ("stanfordnlp/squad_adversarial has a loading script on main and no parquet export "
                                   "(the loopback's default layout); a secondary set, so the run goes on without it",
                                   ["preflight", "--stage", "01_data_prep"],
                                   ["stanfordnlp/squad_adversarial", "no parquet export",
                                    "squad_adversarial-AddOneSent.json", "codalab"]),
    "renamed_repo": (f"{RENAMED_TEACHER[0]} was renamed to {RENAMED_TEACHER[1]} (the hub redirects)",
                     ["preflight", "--stage", "02_teachers"], list(RENAMED_TEACHER) + ["instead"]),
    "missing_revision": (f"the roberta card pins teacher_revision {MISSING_COMMIT}, which the hub does not have",
                         ["preflight", "--stage", "02_teachers"],
                         [RENAMED_TEACHER[0], MISSING_COMMIT, "no revision"]),
    "legacy_student_without_family": ("the bert card's student prajjwal1/bert-medium has a config.json without "
                                      "model_type, and the profile drops the card's student_family",
                                      ["preflight", "--stage", "03_distill"],
                                      ["prajjwal1/bert-medium", "config.json has no model_type", "student_family"]),
    "stalled_download": (f"{STALLED[0]} sends half of {STALLED[1]} and then goes silent",
                         ["run", "01_data_prep"], ["squadshifts-amazon", "stopped answering", "run again"]),
}


# faults that do not stop the run: the exit status they end with (the others end with 2)
GOES_ON = {"script_repo_without_export": 0}


@dataclass
class FaultRun:
    returncode: int
    stderr: str
    seconds: float
    target_left: bool
    half_written: list[str]  # partial downloads, or the stalled file in the hub cache as if complete


def _env(hub_url: str, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_VARS and k != paths.DATA_DIR_ENV}
    env.update(HF_ENDPOINT=hub_url, HF_HOME=str(work / "hf"), QAREPRO_OUTPUTS=str(work / "outputs"),
               HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1",
               # short time-outs so that a silent server is given up on in seconds, not minutes
               HF_HUB_DOWNLOAD_TIMEOUT="1", HF_HUB_ETAG_TIMEOUT="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(paths.ROOT), env.get("PYTHONPATH")])))
    return env


def _profile_arg(name: str, work: Path, faulty: bool) -> str:
    """The rehearsal profile, or for `missing_revision` a copy that pins a commit the hub lacks
    (its fix is the user's: pin one that exists, here the profile's own `main`), and for
    `legacy_student_without_family` a copy that drops the card's student_family (the fix: keep it)."""
    if name not in ("missing_revision", "legacy_student_without_family") or not faulty:
        return PROFILE
    import yaml  # only the two faults that edit the profile need it

    prof = yaml.safe_load((paths.PROFILES / f"{PROFILE}.yaml").read_text())
    prof["name"] = f"rehearsal-{name.replace('_', '-')}"
    if name == "missing_revision":
        prof["cards"]["roberta-base-squad2-distilled"]["overrides"]["teacher_revision"] = MISSING_COMMIT
    else:
        prof["cards"]["bert-medium-squad2-distilled"]["overrides"]["student_family"] = None
    path = work / f"{prof['name']}.yaml"
    path.write_text(yaml.safe_dump(prof))
    return str(path)


def hub_for(name: str, repos: list[Repo], *, faulty: bool) -> LoopbackHub:
    renamed = dict(hub_repos.RENAMED)
    served = list(repos)
    stall = None
    if faulty and name == "script_repo_without_export":
        served = [Repo(r.kind, r.repo_id, {"main": r.revisions["main"]}, r.evidence)
                  if r.repo_id == "stanfordnlp/squad_adversarial" else r for r in repos]
    elif faulty and name == "renamed_repo":
        old, new = RENAMED_TEACHER
        served = [Repo(r.kind, new, r.revisions, r.evidence) if r.repo_id == old else r for r in repos]
        renamed[old] = new
    elif faulty and name == "stalled_download":
        stall = STALLED
    return LoopbackHub(served, renamed=renamed, stall_file=stall, stall_seconds=20)


def local_fix(folder: Path) -> Path:
    """What the README tells a user without the export to do: the original file, under its local
    name, in a folder that QAREPRO_DATA_DIR names (here the fixture sample stands in for it)."""
    import shutil

    from qarepro import data

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(hub_repos.ADVERSARIAL["AddOneSent"], folder / data.REGISTRY[ADVERSARIAL_KEY].filename)
    return folder


def run(name: str, repos: list[Repo], work: Path, *, faulty: bool = True, timeout: float = 300) -> FaultRun:
    """Run the fault's command against a hub with the fault (or, faulty=False, without it)."""
    work.mkdir(parents=True, exist_ok=True)
    _, command, _ = FAULTS[name]
    profile = _profile_arg(name, work, faulty)
    args = [sys.executable, "-m", "qarepro.pipeline", *command, "--profile", profile]
    with hub_for(name, repos, faulty=faulty) as hub:
        env = _env(hub.url, work)
        if name == "script_repo_without_export" and not faulty:
            env[paths.DATA_DIR_ENV] = str(local_fix(work / "data"))
        t0 = time.perf_counter()
        proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, cwd=paths.ROOT)
        seconds = time.perf_counter() - t0
    results = work / "outputs" / Path(profile).stem
    cache = work / "hf" / "hub"
    half = [str(p.relative_to(work)) for p in cache.rglob("*.incomplete")]
    if name == "stalled_download" and faulty:
        half += [str(p.relative_to(work)) for p in
                 cache.glob(f"datasets--{STALLED[0].replace('/', '--')}/snapshots/*/{STALLED[1]}")]
    return FaultRun(proc.returncode, proc.stderr, seconds, target_left=(results / "01_data_prep.json").exists(),
                    half_written=half)
