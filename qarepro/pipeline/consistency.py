"""One run, one profile: the stages of a reported run must have run under the profile it is reported
under, in every key each stage reads.

Every stage JSON records the profile it ran under (provenance.profile) and that profile's
fingerprint. A stage that ran under an older version of the profile is still part of the run if the
profile changed only in keys that stage does not read (the report's wording does not change the
teacher, the ablation grid does not change 01's data). Anything else, and 06 and `qarepro verify`
refuse the run, naming the stages and the keys.
"""

from __future__ import annotations

import json
from typing import Any

from .. import io as qio
from .layout import PipelineError, target
from .profile import Profile
from .stage import STAGES

# profile keys a stage does not read (every other key it may read); "description" is shown by all
_REPORT_ONLY = {"tolerance"}
NOT_READ: dict[str, set[str]] = {
    "01_data_prep": {"ablations", "teacher_variants", "speed", "teacher_finetune", "decoder", "precision",
                     "eval_window", "eval_padding", "eval_batch_size", *_REPORT_ONLY},
    "02_teachers": {"ablations", "teacher_variants", "speed", *_REPORT_ONLY},
    "03_distill": {"ablations", "teacher_variants", "speed", "eval_sample", "eval_samples", "eval_limit",
                   "eval_batch_size", "eval_window", "eval_padding", *_REPORT_ONLY},
    "04_evaluate": {"ablations", "teacher_variants", *_REPORT_ONLY},
    "05_ablations": {"speed", *_REPORT_ONLY},
    "06_report": set(),
}


def stage_disagreements(profile: Profile, upto: str = "06_report") -> dict[str, list[str]]:
    """Per stage JSON of the run (01 up to `upto`, 03 per card), the profile keys it read whose value
    differs from `profile`'s; stages that agree are left out. A stage without a recorded profile counts
    as disagreeing on every key."""
    current = profile.to_dict()
    out: dict[str, list[str]] = {}
    names = list(STAGES[:STAGES.index(upto) + 1])
    files = {}
    for name in names:
        files[name] = target(profile.name, name)
        if name == "03_distill":
            for card in profile.plans:
                files[f"{name}-{card}"] = target(profile.name, name, card)
    for label, path in files.items():
        if not path.is_file():
            continue
        recorded = qio.read_json(path).get("provenance", {}).get("profile")
        stage = label.split("-", 1)[0]
        skip = NOT_READ.get(stage, set())
        if not isinstance(recorded, dict):
            out[label] = ["(no profile recorded)"]
            continue
        keys = sorted(k for k in set(current) | set(recorded)
                      if k not in skip and _portable(recorded.get(k)) != _portable(current.get(k)))
        if keys:
            out[label] = keys
    return out


def _portable(value: Any) -> Any:
    """JSON round trip: the recorded profile went through JSON (tuples became lists)."""
    return json.loads(json.dumps(value, default=str))


def check_one_profile(profile: Profile, upto: str = "06_report") -> None:
    """Raise PipelineError naming every stage that ran under another profile (see the module docstring)."""
    bad = stage_disagreements(profile, upto)
    if bad:
        lines = "; ".join(f"{stage}: {', '.join(keys)}" for stage, keys in bad.items())
        raise PipelineError(f"profile {profile.name}: the run's stages did not all run under this profile "
                            f"(keys that differ, per stage: {lines}); rerun those stages "
                            f"(delete their JSON under outputs/{profile.name}/ and run make reproduce)")
