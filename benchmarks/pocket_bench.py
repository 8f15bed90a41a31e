"""What the pocket-cpu benchmarks share: the data-folder check and the stage they run under."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qarepro import paths, pipeline  # noqa: E402

PROFILE = "pocket-cpu"


def pocket_stage(stage_name: str, card: str):
    """(stage, the card's teacher initialisation) under the pocket-cpu profile; None (with a message
    on stderr) when no local data folder is set: these benchmarks read the real SQuAD files."""
    if not os.environ.get(paths.DATA_DIR_ENV):
        print(f"set {paths.DATA_DIR_ENV} to a folder of the SQuAD files (see README)", file=sys.stderr)
        return None
    stage = pipeline.start(stage_name, pipeline.load_profile(PROFILE))
    return stage, pipeline.resolve_model(stage.profile.plans[card].teacher, stage.profile)
