"""The notebook contract: `start(stage, profile)` at the top of a notebook, `finish(stage, result)` at
the end; in between a `Stage` names the stage's figures, titles, timings and earlier results.

`finish` writes the stage's metrics JSON (with provenance). That JSON is the make target; under
the runner it goes to a staging file that the runner moves onto the target only once the
notebook has run and its reports are rendered.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import torch

from .. import io as qio
from .. import paths, provenance
from ..runtime import resolve_device
from .layout import PipelineError, data_dir, results_dir, short_path, target
from .profile import Profile, load_profile, profile_fingerprint

STAGES = ("01_data_prep", "02_teachers", "03_distill", "04_evaluate", "05_ablations", "06_report")


PER_CARD_STAGES = ("03_distill",)


STAGE_OUTPUT_ENV = "QAREPRO_STAGE_OUTPUT"   # set by the runner: where finish() writes (staging)


PROFILE_ENV = "QAREPRO_PROFILE"            # make lab: the profile of a notebook whose parameter is None


DEFAULT_PROFILE = "smoke"                  # a notebook run by hand with profile None and no QAREPRO_PROFILE


LAB = "lab"                                # outputs/lab/<profile>/: where a notebook run by hand writes


QUIET_ENV = (("TRANSFORMERS_VERBOSITY", "error"), ("TOKENIZERS_PARALLELISM", "false"),
             ("HF_DATASETS_DISABLE_PROGRESS_BARS", "1"), ("TQDM_DISABLE", "1"), ("HF_HUB_DISABLE_PROGRESS_BARS", "1"))


@dataclass
class Stage:
    name: str
    profile: Profile
    card: str | None = None
    t0: float = 0.0
    fingerprints: dict[str, str] = dataclasses.field(default_factory=dict)
    configs: dict[str, Any] = dataclasses.field(default_factory=dict)
    seeds: dict[str, Any] = dataclasses.field(default_factory=dict)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    scratch: Path | None = None   # a notebook run by hand writes here (outputs/lab/<profile>), never to a target
    rerender: bool = False        # the reports again from this stage's own record: nothing trained or scored
    # secondary evaluation sets that could not be had (no hub export, no local file): key -> why.
    # 01_data_prep finds them and records them; every later stage reads them from its record.
    not_run: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def results(self) -> Path:
        return self.scratch or results_dir(self.profile.name)

    @property
    def target(self) -> Path:
        return self.results / target(self.profile.name, self.name, self.card).name

    def figure(self, name: str) -> Path:
        stem = self.name + (f"-{self.card}" if self.card else "")
        return self.results / "figures" / f"{stem}-{name}.png"

    def previous(self, stage: str, card: str | None = None) -> dict[str, Any]:
        """An earlier stage's record: by hand, the scratch folder's if that stage ran there, else make's."""
        path = target(self.profile.name, stage, card)
        if self.scratch and (self.scratch / path.name).is_file():
            path = self.scratch / path.name
        if not path.is_file():
            what = f"{stage}" + (f" for {card}" if card else "")
            raise PipelineError(f"{path} is missing: run {what} first "
                                f"(`qarepro run {stage} --profile {self.profile.name}`, or make)")
        return paths.resolve(qio.read_json(path))  # records name paths relative to the project

    def record(self) -> dict[str, Any]:
        """This stage's own record (its JSON from the run being re-rendered)."""
        return self.previous(self.name, self.card)

    @property
    def data_dir(self) -> str | None:
        return data_dir(self.profile)

    @property
    def eval_datasets(self) -> list[str]:
        """The profile's evaluation sets this run scores: all but those reported "not run"."""
        return [d for d in self.profile.eval_datasets if d not in self.not_run]

    def not_run_lines(self) -> list[str]:
        """One Markdown line per evaluation set not run, with its reason (the report says why)."""
        return [f"**Not run: `{k}`**: {why}" for k, why in self.not_run.items()]

    @contextlib.contextmanager
    def timed(self, what: str):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.timings[what] = round(self.timings.get(what, 0.0) + time.perf_counter() - t, 3)

    def title(self, text: str) -> str:
        """A figure title, marked as a pipeline check where the profile is one."""
        suffix = {"pipeline_check": " (pipeline check, not a reproduction)", "pocket": " (pocket reproduction)"}
        return text + suffix.get(self.profile.purpose, "")

    def summary(self) -> str:
        p = self.profile
        lines = [f"**Stage** `{self.name}`" + (f" — card `{self.card}`" if self.card else ""),
                 f"**Profile** `{p.name}` ({short_path(str(p.source))}): {p.description}"]
        if p.caveat:
            lines.append(f"> **{p.caveat}.**")
        lines.append(f"**Device** {device(p)}; **datasets** {', '.join(self.eval_datasets)}")
        lines += self.not_run_lines()
        return "\n\n".join(lines)


def device(profile: Profile) -> str:
    """The profile's device; "auto" resolved by qarepro.runtime (cuda when torch sees a GPU)."""
    return resolve_device(None if profile.device == "auto" else profile.device)


def run_by_hand() -> bool:
    """A notebook run in a Jupyter kernel without the runner (JupyterLab, `make lab`), not by papermill."""
    if os.environ.get(STAGE_OUTPUT_ENV):
        return False
    ipython = sys.modules.get("IPython")  # imported by any kernel; never imported here
    return "ipykernel" in sys.modules and ipython is not None and ipython.get_ipython() is not None


def start(stage: str, profile: str | Profile | None, card: str | None = None, *, rerender: bool = False) -> Stage:
    """Begin a stage in a notebook: quiet the libraries, load the profile, set threads.

    `profile` is the notebook's parameter and always wins; None takes $QAREPRO_PROFILE, else
    smoke. A notebook run by hand (`run_by_hand`) writes to a scratch folder, outputs/lab/<profile>/,
    never to make's targets or a profile's committed results, and says so (its first output)."""
    quiet()
    origin = "the notebook's parameter"
    if profile is None:
        env = os.environ.get(PROFILE_ENV)
        profile, origin = (env, f"${PROFILE_ENV}") if env else (DEFAULT_PROFILE, "the default")
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    if stage not in STAGES:
        raise PipelineError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    if card is not None and card not in prof.cards:
        raise PipelineError(f"card {card!r} is not in profile {prof.name} (cards: {', '.join(prof.cards)})")
    if prof.threads:
        torch.set_num_threads(prof.threads)
    if prof.device == "cuda":
        if not torch.cuda.is_available():
            raise PipelineError(f"profile {prof.name} asks for device cuda, but torch sees no GPU "
                                f"(use a GPU machine, or a profile with device: cpu or auto)")
    st = Stage(stage, prof, card, time.perf_counter(), rerender=rerender)
    if run_by_hand():
        st.scratch = paths.outputs() / LAB / prof.name
    if stage != STAGES[0]:  # which evaluation sets 01_data_prep could not have, and why
        with contextlib.suppress(PipelineError):
            st.not_run = dict(st.previous(STAGES[0]).get("not_run") or {})
    if st.scratch is not None:
        print(f"Run by hand: profile {prof.name} (from {origin}). Results go to the scratch folder "
              f"{paths.portable_text(str(st.scratch))}/, not to make's targets in "
              f"{paths.portable_text(str(results_dir(prof.name)))}/; earlier stages are read from the scratch "
              f"folder where they ran there, else from make's results.")
    return st


class _LongInputFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Token indices sequence length" not in str(record.msg)


def quiet() -> None:
    # features.py tokenises whole contexts before windowing them: the tokenizer's length warning is moot
    tok_log = logging.getLogger("transformers.tokenization_utils_base")
    if not any(isinstance(f, _LongInputFilter) for f in tok_log.filters):
        tok_log.addFilter(_LongInputFilter())
    for var, val in QUIET_ENV:
        os.environ.setdefault(var, val)
    logging.getLogger("qarepro").setLevel(logging.WARNING)
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    with contextlib.suppress(ImportError):
        import transformers  # deferred: seconds to import; stages 01 and 06 never load a model

        transformers.logging.set_verbosity_error()


def finish(stage: Stage, result: dict[str, Any]) -> None:
    """Write the stage's metrics JSON (with provenance) atomically; returns its path. Under the
    runner it goes to a staging file that the runner moves onto the target once reports exist."""
    stage.timings["stage_s"] = round(time.perf_counter() - stage.t0, 3)
    out = {
        "stage": stage.name, "profile": stage.profile.name, "card": stage.card,
        "purpose": stage.profile.purpose,
        "label": stage.profile.caveat or "reproduction",
        "profile_fingerprint": profile_fingerprint(stage.profile),
        **result,
        "provenance": provenance.collect(
            profile=stage.profile.to_dict(), config=stage.configs, seeds=stage.seeds,
            datasets=stage.fingerprints, timings=stage.timings),
    }
    dest = Path(os.environ.get(STAGE_OUTPUT_ENV) or stage.target)
    qio.write_json(dest, paths.portable(plain(out)))
    print(f"{stage.name}: metrics JSON -> {short_path(str(stage.target))}"
          + (" (once the reports are rendered)" if dest != stage.target else ""))
    return None


def plain(obj: Any) -> Any:
    """JSON-safe copy (numpy scalars, paths, NaN -> None)."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        with contextlib.suppress(Exception):
            obj = obj.item()
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    return obj
