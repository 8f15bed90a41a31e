"""Profiles, the per-stage functions the notebooks call, and the notebook runner.

A profile (configs/profiles/<name>.yaml, loaded strictly) says which models, datasets and
settings a run of the six notebooks uses: `full` reproduces the cards (hub models, GPU), `smoke`
checks the machinery offline in minutes (tiny models on the fixture sample).

Each notebook calls `start(stage, profile)`, one or two functions of this module, and
`finish(stage, result)`, which writes the stage's metrics JSON (with provenance). That JSON is
the make target; the runner writes it last, atomically, only once the notebook has run and its
reports are rendered:

    python -m qarepro.pipeline run 01_data_prep --profile smoke   # one notebook
    python -m qarepro.pipeline run 03_distill --profile smoke     # once per card, then an index
    python -m qarepro.pipeline preflight --profile full           # what is missing, and how to supply it
    python -m qarepro.pipeline verify --profile full              # published checkpoints vs their claims
    python -m qarepro.pipeline compare OUTPUTS_A OUTPUTS_B --profile smoke   # same metric values?
    python -m qarepro.pipeline compare A B --profile pocket-cpu --shared-only --out F.json  # what both hold
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import signal
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import config, paths
from . import io as qio
from .config import ConfigError

log = logging.getLogger("qarepro.pipeline")

STAGES = ("01_data_prep", "02_teachers", "03_distill", "04_evaluate", "05_ablations", "06_report")
PER_CARD_STAGES = ("03_distill",)
STAGE_OUTPUT_ENV = "QAREPRO_STAGE_OUTPUT"   # set by the runner: where finish() writes (staging)
TINY_PREFIX = "tiny:"

# Distillation-config keys this module sets (qarepro.distill's DistillConfig).
K_TEACHER, K_STUDENT, K_TRAIN, K_DATA_DIR, K_SEED = "teacher", "student", "train_data", "data_dir", "seed"
K_TEMPERATURE, K_WEIGHT, K_LOSS, K_OUT = "temperature", "distillation_loss_weight", "loss_variant", "output_dir"
ABLATION_KEYS = {"temperature": K_TEMPERATURE, "weight": K_WEIGHT, "loss": K_LOSS, "seed": K_SEED,
                 "precision": "precision"}
BASELINE_SEED = "baseline_seed"  # ablation rows: the no-distillation baseline (weight 0) at each seed
# Plain fine-tuning: no teacher, and the distillation-only keys fixed, so that cards sharing a
# student and training data share their baseline runs.
NO_DISTILLATION = {"teacher": None, "distillation_loss_weight": 0.0, "temperature": 1.0, "loss_variant": "haystack"}


class PipelineError(RuntimeError):
    """A stage cannot run: a missing input, model or previous stage. The message says what to do."""


# --------------------------------------------------------------------------------------------
# Profiles


@dataclass
class CardPlan:
    """How a profile runs one card."""
    teacher: str = config.field(help="hub id, local directory, or tiny:<name> (built by 02_teachers)")
    finetune_teacher: bool = config.field(False, help="fine-tune the teacher first (no fine-tuned teacher offline)")
    student: str | None = config.field(None, help="student initialisation; None: the card config's own")
    published: str | None = config.field(None, help="the card's published checkpoint (hub id or directory)")
    distill_config: str | None = config.field(None, help="distillation config name or path; None: the card name")
    overrides: dict[str, Any] = config.field({}, help="distillation config overrides for this card")


@dataclass
class Ablations:
    """One factor at a time around each card's own setting."""
    cards: list[str] = config.field([])
    temperature: list[float] = config.field([])
    weight: list[float] = config.field([])
    loss: list[str] = config.field([])
    precision: list[str] = config.field(
        [], help="student training precision (fp32, the cards', vs bf16 / fp16 autocast); the teacher cache and "
                 "the scoring keep the card's and the profile's precision")
    decoder: list[str] = config.field([])
    seed: list[int] = config.field([])
    datasets: list[str] | None = config.field(None, help="evaluated on these; None: the primary dataset")


@dataclass
class Speed:
    examples: int = 64
    batch_size: int = 32
    latency_examples: int = 16


@dataclass
class TinyModel:
    family: str = config.field(choices=["bert", "roberta"])
    hidden_size: int = 32
    num_layers: int = 2
    num_heads: int = 2
    intermediate_size: int = 64
    vocab_size: int = 1000
    seed: int = 0
    tokenizer_from: str | None = config.field(None, help="share this tiny model's tokenizer (teacher/student pairs)")


@dataclass
class Profile:
    name: str
    description: str
    purpose: str = config.field(choices=["reproduction", "pipeline_check", "pocket"])
    eval_datasets: list[str] = config.field(help="registry keys every model is scored on")
    cards: dict[str, Any] = config.field(help="card name -> CardPlan")
    device: str = config.field("auto", choices=["auto", "cuda", "cpu"])
    threads: int | None = config.field(None, help="torch CPU threads (None: torch's default)")
    data_dir: str | None = config.field(None, help="folder of SQuAD JSON files; None: $QAREPRO_DATA_DIR, then the hub")
    data_files: dict[str, Any] = config.field({}, help="registry key -> local file (relative to the repository)")
    train_data: str | None = config.field(None, help="training set for every run; None: the card config's")
    primary_dataset: str = "squad_v2-validation"
    eval_limit: int | None = config.field(None, help="score only the first N questions of each dataset")
    eval_sample: int | None = config.field(None, help="score N questions spread evenly over each dataset")
    eval_batch_size: int = 32
    decoder: str = config.field("hf", choices=["hf", "haystack"])
    precision: str = config.field("auto", choices=["auto", "fp32", "bf16", "fp16"])
    eval_window: dict[str, Any] = config.field({}, help="WindowConfig fields for evaluation (default: the decoder's)")
    tiny_models: dict[str, Any] = config.field({}, help="name -> TinyModel (qarepro.tiny)")
    tiny_texts: list[str] = config.field([], help="files whose text trains the tiny tokenizers")
    teacher_finetune: dict[str, Any] = config.field({}, help="config overrides when a teacher is fine-tuned")
    ablations: dict[str, Any] = config.field({})
    speed: dict[str, Any] = config.field({})
    tolerance: float | None = config.field(None, help="EM/F1 points; None: the claims files' own")

    # filled by load_profile (not keys of the file)
    source: str = dataclasses.field(default="", repr=False, metadata={"internal": True})

    @property
    def plans(self) -> dict[str, CardPlan]:
        return self.cards  # type: ignore[return-value]  (converted in load_profile)

    @property
    def ablation(self) -> Ablations:
        return self.ablations  # type: ignore[return-value]

    @property
    def speed_cfg(self) -> Speed:
        return self.speed  # type: ignore[return-value]

    @property
    def is_check(self) -> bool:
        return self.purpose == "pipeline_check"

    @property
    def caveat(self) -> str | None:
        """What the numbers of a profile that is not the full reproduction stand for."""
        from .report import PIPELINE_CHECK, POCKET

        return {"pipeline_check": PIPELINE_CHECK, "pocket": POCKET}.get(self.purpose)

    def train_datasets(self) -> list[str]:
        """The training set of every card: the profile's, else each card config's own."""
        if self.train_data:
            return [self.train_data]
        from .distill import load_distill_config

        keys: list[str] = []
        for card, plan in self.plans.items():
            key = load_distill_config(plan.distill_config or card, plan.overrides).train_data
            if key not in keys:
                keys.append(key)
        return keys

    def datasets(self) -> list[str]:
        """Every dataset the profile touches: training sets first, then evaluation sets."""
        keys = self.train_datasets()
        return keys + [k for k in self.eval_datasets if k not in keys]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("source", None)
        return d


def profile_path(name_or_path: str | os.PathLike) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        return p
    return paths.PROFILES / f"{name_or_path}.yaml"


def load_profile(name_or_path: str | os.PathLike, overrides: Mapping[str, Any] | Sequence[str] | None = None) -> Profile:
    """Load and validate a profile; nested sections are checked as strictly as the top level."""
    path = profile_path(name_or_path)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in paths.PROFILES.glob("*.yaml")))
        raise ConfigError(f"profile {str(name_or_path)!r}: no file {path} (known profiles: {known})")
    raw = config.load_yaml(path)
    raw.update(config.parse_overrides(overrides))
    if "source" in raw:
        raise ConfigError(f"{path}: unknown key(s) 'source'")
    src = str(path)
    prof = config.from_mapping(Profile, raw, src)
    if prof.name != path.stem and path.parent == paths.PROFILES:
        raise ConfigError(f"{src}: key 'name' is {prof.name!r} but the file is {path.name}")
    prof.source = src
    prof.cards = {card: config.from_mapping(CardPlan, plan or {}, f"{src}: cards.{card}")
                  for card, plan in prof.cards.items()}
    if not prof.cards:
        raise ConfigError(f"{src}: key 'cards' names no card")
    prof.tiny_models = {n: config.from_mapping(TinyModel, spec or {}, f"{src}: tiny_models.{n}")
                        for n, spec in prof.tiny_models.items()}
    prof.ablations = config.from_mapping(Ablations, prof.ablations or {}, f"{src}: ablations")
    prof.speed = config.from_mapping(Speed, prof.speed or {}, f"{src}: speed")
    _check_profile(prof, src)
    return prof


def _check_profile(prof: Profile, src: str) -> None:
    from .data import REGISTRY

    from . import claims as qclaims

    for key in [*prof.eval_datasets, prof.primary_dataset, *(prof.train_data and [prof.train_data] or []),
                *prof.data_files]:
        if key not in REGISTRY:
            raise ConfigError(f"{src}: dataset {key!r} is not a registry key (known: {', '.join(REGISTRY)})")
    if prof.primary_dataset not in prof.eval_datasets:
        raise ConfigError(f"{src}: primary_dataset {prof.primary_dataset!r} is not in eval_datasets")
    for key, file in prof.data_files.items():
        if not isinstance(file, str):
            raise ConfigError(f"{src}: data_files.{key}: expected a path string")
    for card, plan in prof.plans.items():
        if not qclaims.claims_path(card).is_file():
            raise ConfigError(f"{src}: cards.{card}: no claims file {qclaims.claims_path(card)}")
        for ref in (plan.teacher, plan.student):
            if ref and ref.startswith(TINY_PREFIX) and ref[len(TINY_PREFIX):] not in prof.tiny_models:
                raise ConfigError(f"{src}: cards.{card}: {ref!r} is not in tiny_models")
    for name, spec in prof.tiny_models.items():
        src_ = spec.tokenizer_from
        if src_ is not None and (src_ not in prof.tiny_models or prof.tiny_models[src_].tokenizer_from
                                 or prof.tiny_models[src_].family != spec.family):
            raise ConfigError(f"{src}: tiny_models.{name}.tokenizer_from: {src_!r} must be another tiny model "
                              f"of family {spec.family} that builds its own tokenizer")
    for decoder in ("hf", "haystack"):
        try:
            eval_window(prof, decoder)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{src}: eval_window: {err}") from None
    ab = prof.ablation
    for card in ab.cards:
        if card not in prof.cards:
            raise ConfigError(f"{src}: ablations.cards: {card!r} is not in cards")
    for d in ab.decoder:
        if d not in ("hf", "haystack"):
            raise ConfigError(f"{src}: ablations.decoder: {d!r} is not one of ['hf', 'haystack']")
    for v in ab.loss:
        if v not in ("haystack", "hf"):
            raise ConfigError(f"{src}: ablations.loss: {v!r} is not one of ['haystack', 'hf']")
    for v in ab.precision:
        if v not in ("fp32", "bf16", "fp16"):
            raise ConfigError(f"{src}: ablations.precision: {v!r} is not one of ['fp32', 'bf16', 'fp16']")
    for w in ab.weight:
        if not 0.0 <= w <= 1.0:
            raise ConfigError(f"{src}: ablations.weight: {w} is outside [0, 1]")
    for t in ab.temperature:
        if t <= 0:
            raise ConfigError(f"{src}: ablations.temperature: {t} must be positive")


# --------------------------------------------------------------------------------------------
# Where things go


def results_dir(profile: str) -> Path:
    return paths.results(profile)


def target(profile: str, stage: str, card: str | None = None) -> Path:
    """The stage's metrics JSON: the make target."""
    return results_dir(profile) / (f"{stage}-{card}.json" if card else f"{stage}.json")


def models_dir(profile: str) -> Path:
    return paths.outputs() / "models" / profile


def resolve_model(ref: str | None, profile: Profile) -> str | None:
    """tiny:<name> -> its built directory; a relative path that exists -> absolute; else as given (hub id)."""
    if ref is None:
        return None
    if ref.startswith(TINY_PREFIX):
        return str(models_dir(profile.name) / "tiny" / ref[len(TINY_PREFIX):])
    p = Path(ref).expanduser()
    if not p.is_absolute() and (paths.ROOT / p).exists():
        return str((paths.ROOT / p).resolve())
    return str(p) if p.is_absolute() else ref


def data_dir(profile: Profile) -> str | None:
    """The folder datasets are read from. With `data_files`, a folder under the profile's outputs
    holding a copy of each file under its registry file name (so dataset keys stay the same)."""
    if not profile.data_files:
        if not profile.data_dir:
            return None  # qarepro.data then reads $QAREPRO_DATA_DIR itself (and says so in its errors)
        p = Path(profile.data_dir).expanduser()
        return str(p if p.is_absolute() else paths.ROOT / p)
    from .data import REGISTRY

    folder = results_dir(profile.name) / "data"
    for key, file in profile.data_files.items():
        src = Path(file) if Path(file).is_absolute() else paths.ROOT / file
        dst = folder / REGISTRY[key].filename
        if not src.is_file():
            raise PipelineError(f"profile {profile.name}: data_files.{key}: no file {src}")
        if not dst.is_file() or dst.read_bytes() != src.read_bytes():
            folder.mkdir(parents=True, exist_ok=True)
            with qio.atomic_path(dst) as tmp:
                shutil.copyfile(src, tmp)
    return str(folder)


def config_hash(obj: Any, n: int = 10) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:n]


# --------------------------------------------------------------------------------------------
# Stage bookkeeping


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

    @property
    def results(self) -> Path:
        return results_dir(self.profile.name)

    @property
    def target(self) -> Path:
        return target(self.profile.name, self.name, self.card)

    def figure(self, name: str) -> Path:
        stem = self.name + (f"-{self.card}" if self.card else "")
        return self.results / "figures" / f"{stem}-{name}.png"

    def previous(self, stage: str, card: str | None = None) -> dict[str, Any]:
        path = target(self.profile.name, stage, card)
        if not path.is_file():
            what = f"{stage}" + (f" for {card}" if card else "")
            raise PipelineError(f"{path} is missing: run {what} first "
                                f"(`python -m qarepro.pipeline run {stage} --profile {self.profile.name}`, or make)")
        return qio.read_json(path)

    @property
    def data_dir(self) -> str | None:
        return data_dir(self.profile)

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
                 f"**Profile** `{p.name}` ({p.source}): {p.description}"]
        if p.caveat:
            lines.append(f"> **{p.caveat}.**")
        lines.append(f"**Device** {device(p)}; **datasets** {', '.join(p.eval_datasets)}")
        return "\n\n".join(lines)


def device(profile: Profile) -> str:
    if profile.device != "auto":
        return profile.device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def start(stage: str, profile: str | Profile, card: str | None = None) -> Stage:
    """Begin a stage in a notebook: quiet the libraries, load the profile, set threads."""
    _quiet()
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    if stage not in STAGES:
        raise PipelineError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    if card is not None and card not in prof.cards:
        raise PipelineError(f"card {card!r} is not in profile {prof.name} (cards: {', '.join(prof.cards)})")
    if prof.threads:
        import torch

        torch.set_num_threads(prof.threads)
    if prof.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise PipelineError(f"profile {prof.name} asks for device cuda, but torch sees no GPU "
                                f"(use a GPU machine, or a profile with device: cpu or auto)")
    return Stage(stage, prof, card, time.perf_counter())


QUIET_ENV = (("TRANSFORMERS_VERBOSITY", "error"), ("TOKENIZERS_PARALLELISM", "false"),
             ("HF_DATASETS_DISABLE_PROGRESS_BARS", "1"), ("TQDM_DISABLE", "1"), ("HF_HUB_DISABLE_PROGRESS_BARS", "1"))


class _LongInputFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Token indices sequence length" not in str(record.msg)


def _quiet() -> None:
    import warnings

    warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm.auto without ipywidgets
    # features.py tokenises whole contexts before windowing them: the tokenizer's length warning is moot
    tok_log = logging.getLogger("transformers.tokenization_utils_base")
    if not any(isinstance(f, _LongInputFilter) for f in tok_log.filters):
        tok_log.addFilter(_LongInputFilter())
    for var, val in QUIET_ENV:
        os.environ.setdefault(var, val)
    logging.getLogger("qarepro").setLevel(logging.WARNING)
    with contextlib.suppress(ImportError):
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    with contextlib.suppress(ImportError):
        import transformers

        transformers.logging.set_verbosity_error()


def finish(stage: Stage, result: dict[str, Any]) -> None:
    """Write the stage's metrics JSON (with provenance) atomically; returns its path. Under the
    runner it goes to a staging file that the runner moves onto the target once reports exist."""
    from . import provenance

    stage.timings["stage_s"] = round(time.perf_counter() - stage.t0, 3)
    out = {
        "stage": stage.name, "profile": stage.profile.name, "card": stage.card,
        "purpose": stage.profile.purpose,
        "label": stage.profile.caveat or "reproduction",
        **result,
        "provenance": provenance.collect(
            profile=stage.profile.to_dict(), config=stage.configs, seeds=stage.seeds,
            datasets=stage.fingerprints, timings=stage.timings),
    }
    dest = Path(os.environ.get(STAGE_OUTPUT_ENV) or stage.target)
    qio.write_json(dest, _plain(out))
    print(f"{stage.name}: metrics JSON -> {_short_path(str(stage.target))}"
          + (" (once the reports are rendered)" if dest != stage.target else ""))
    return None


def _plain(obj: Any) -> Any:
    """JSON-safe copy (numpy scalars, paths, NaN -> None)."""
    import math

    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        with contextlib.suppress(Exception):
            obj = obj.item()
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    return obj


# --------------------------------------------------------------------------------------------
# 01 data preparation


def data_prep(stage: Stage):
    """Load and validate every dataset of the profile; counts, fingerprints, where each came from."""
    import pandas as pd

    from . import data as qdata

    folder = stage.data_dir
    rows, info = [], {}
    for key in stage.profile.datasets():
        with stage.timed(f"load:{key}"):
            examples = qdata.load_examples(key, folder)
        spec = qdata.REGISTRY[key]
        local = Path(folder) / spec.filename if folder else None
        origin = str(local) if local is not None and local.is_file() else f"hub {spec.hub_id}/{spec.hub_config}:{spec.split}"
        counts = qdata.describe(examples)
        fp = qdata.fingerprint(examples)
        stage.fingerprints[key] = fp
        role = "train" if key in stage.profile.train_datasets() else "eval"
        info[key] = {"role": role, **counts, "fingerprint": fp, "source": origin}
        rows.append({"dataset": key, "role": role, **counts, "fingerprint": fp, "source": _short_path(origin)})
    fp_file = qio.write_json(stage.results / "fingerprints.json", {"profile": stage.profile.name, "datasets": stage.fingerprints})
    return pd.DataFrame(rows), {"datasets": info, "fingerprints_file": str(fp_file)}


def _short_path(p: str) -> str:
    with contextlib.suppress(ValueError):
        return str(Path(p).resolve().relative_to(paths.ROOT))
    with contextlib.suppress(ValueError):
        return str(Path(p).resolve().relative_to(paths.outputs()))
    return p


# --------------------------------------------------------------------------------------------
# Distillation configs and runs


def card_config(stage: Stage, card: str, *, teacher: str | None | bool = False, student: str | None = None,
                overrides: Mapping[str, Any] | None = None, run_name: str | None = None):
    """The card's distillation config with the profile's and the caller's overrides.

    teacher: False keeps the card config's teacher, None trains without a teacher, a string sets it."""
    from . import distill

    prof = stage.profile
    plan = prof.plans[card]
    ov: dict[str, Any] = {}
    if prof.train_data:
        ov[K_TRAIN] = prof.train_data
    folder = stage.data_dir
    if folder:
        ov[K_DATA_DIR] = folder
    if plan.student:
        ov[K_STUDENT] = resolve_model(plan.student, prof)
    if student is not None:
        ov[K_STUDENT] = student
    if teacher is not False:
        ov[K_TEACHER] = teacher
    ov.update(plan.overrides)
    ov.update(overrides or {})
    if run_name:
        ov[K_OUT] = str(paths.runs() / prof.name / run_name)
    return distill.load_distill_config(plan.distill_config or card, ov)


def config_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg)


def train(cfg) -> Path:
    """Train, or reuse a finished run of the same config; returns the run's model folder.

    An unfinished run (killed midway) is resumed from its last complete checkpoint."""
    from . import distill

    folder = distill.run_dir(cfg)
    now = {k: v for k, v in config.to_dict(cfg).items() if k not in distill.RESUME_FREE_KEYS}

    def same(saved: Path) -> bool:
        if not saved.is_file():
            return False
        old = config.load_yaml(saved)
        return all(old.get(k) == v for k, v in now.items())

    if (folder / "model" / "train_metrics.json").is_file() and same(folder / "model" / "config.yaml"):
        return folder / "model"
    if (folder / "config.yaml").is_file() and not same(folder / "config.yaml"):
        return Path(distill.train(dataclasses.replace(cfg, overwrite=True), resume=False))
    return Path(distill.train(cfg, resume=True))


def model_dir(run: str | Path) -> Path:
    """The saved model of a run (the folder itself, or its model/ subfolder)."""
    run = Path(run)
    for cand in (run, run / "model"):
        if (cand / "config.json").is_file():
            return cand
    raise PipelineError(f"{run}: no saved model (config.json) found")


def training_log(model: str | Path):
    """Per-step training log of a run (from its train.log) as a data frame."""
    import pandas as pd

    model = Path(model)
    for f in (model.parent / "train.log", model / "train.log"):
        if f.is_file():
            rows = []
            for line in f.read_text(encoding="utf-8").splitlines():
                i = line.find(" train {")
                if i >= 0:
                    with contextlib.suppress(json.JSONDecodeError):
                        rows.append(json.loads(line[i + 7:]))
            return pd.DataFrame(rows)
    return pd.DataFrame()


def train_metrics(model: str | Path) -> dict[str, Any]:
    f = Path(model) / "train_metrics.json"
    return qio.read_json(f) if f.is_file() else {}


# --------------------------------------------------------------------------------------------
# 02 teachers


def build_tiny_models(stage: Stage):
    """Build the profile's tiny models (once; an existing complete one is kept). A model with
    `tokenizer_from` gets that model's tokenizer, so that a teacher and its student tokenise alike."""
    import pandas as pd

    from .tiny import build_tiny_qa_model, fixture_texts

    prof = stage.profile
    if not prof.tiny_models:
        return pd.DataFrame()
    texts = fixture_texts([paths.ROOT / t for t in prof.tiny_texts]) if prof.tiny_texts else None
    order = sorted(prof.tiny_models, key=lambda n: prof.tiny_models[n].tokenizer_from is not None)
    rows = []
    for name in order:
        spec = prof.tiny_models[name]
        out = Path(resolve_model(TINY_PREFIX + name, prof))
        if not (out / "qarepro_tiny.json").is_file():
            if not texts:
                raise PipelineError(f"profile {prof.name}: tiny_models need tiny_texts (files to train tokenizers on)")
            tmp = out.with_name(f".{out.name}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            with stage.timed("build_tiny_models"):
                build_tiny_qa_model(spec.family, tmp, texts, vocab_size=spec.vocab_size, hidden_size=spec.hidden_size,
                                    num_layers=spec.num_layers, num_heads=spec.num_heads,
                                    intermediate_size=spec.intermediate_size, seed=spec.seed)
                if spec.tokenizer_from:
                    _share_tokenizer(Path(resolve_model(TINY_PREFIX + spec.tokenizer_from, prof)), tmp)
            shutil.rmtree(out, ignore_errors=True)
            tmp.rename(out)
        rows.append({"model": TINY_PREFIX + name, **dataclasses.asdict(spec), "path": _short_path(str(out))})
    return pd.DataFrame(rows)


def _share_tokenizer(source: Path, model: Path) -> None:
    """Replace `model`'s tokenizer files by `source`'s, resizing the (random) embeddings to match."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    keep = {"config.json", "qarepro_tiny.json", "model.safetensors", "pytorch_model.bin", "generation_config.json"}
    for f in model.iterdir():
        if f.is_file() and f.name not in keep:
            f.unlink()
    for f in source.iterdir():
        if f.is_file() and f.name not in keep:
            shutil.copyfile(f, model / f.name)
    tok = AutoTokenizer.from_pretrained(str(model))
    qa = AutoModelForQuestionAnswering.from_pretrained(str(model))
    if qa.config.vocab_size != len(tok):
        qa.resize_token_embeddings(len(tok))
        qa.save_pretrained(str(model))


def prepare_teachers(stage: Stage) -> dict[str, Any]:
    """Per card: the teacher (fine-tuned first where the profile says so), scored on every
    evaluation dataset, and its logits cached over the card's training features."""
    from . import distill

    prof = stage.profile
    out: dict[str, Any] = {}
    for card, plan in prof.plans.items():
        init = resolve_model(plan.teacher, prof)
        entry: dict[str, Any] = {"teacher_source": plan.teacher, "finetuned": plan.finetune_teacher}
        if plan.finetune_teacher:
            # distillation-only keys are neutral without a teacher; fixing them lets cards that
            # fine-tune the same teacher the same way share one run (named by its identity)
            ov = {**NO_DISTILLATION, **prof.teacher_finetune}
            probe = card_config(stage, card, student=init, overrides=ov)
            cfg = card_config(stage, card, student=init, overrides=ov,
                              run_name=f"teacher-{run_identity(config_dict(probe))}")
            stage.configs[f"teacher-finetune:{card}"] = config_dict(cfg)
            with stage.timed(f"finetune_teacher:{card}"):
                run = train(cfg)
            teacher = str(model_dir(run))
            entry["finetune_run"] = str(run)
        else:
            teacher = init
        entry["teacher"] = teacher
        with stage.timed(f"evaluate_teacher:{card}"):
            summary = evaluate(stage, f"teacher-{card}", teacher)
        entry["metrics"] = {k: v["metrics"] for k, v in summary["results"].items()}
        cfg = card_config(stage, card, teacher=teacher)
        stage.configs[f"cache:{card}"] = config_dict(cfg)
        with stage.timed(f"cache_teacher:{card}"):
            cache = distill.cache_teacher(cfg)
        entry["teacher_cache"] = str(getattr(cache, "path", cache))
        out[card] = entry
    return out


def teacher_table(teachers: Mapping[str, Any]):
    import pandas as pd

    rows = []
    for card, t in teachers.items():
        for ds, m in t["metrics"].items():
            rows.append({"card": card, "teacher": _short_path(t["teacher"]), "fine-tuned here": t["finetuned"],
                         "dataset": ds, "EM": m.get("exact"), "F1": m.get("f1"), "HasAns F1": m.get("HasAns_f1"),
                         "NoAns F1": m.get("NoAns_f1"), "questions": m.get("total")})
    return pd.DataFrame(rows).round(2)


def cache_table(teachers: Mapping[str, Any]):
    import pandas as pd

    rows = []
    for card, t in teachers.items():
        meta_file = Path(t["teacher_cache"]) / "meta.json"
        meta = qio.read_json(meta_file) if meta_file.is_file() else {}
        rows.append({"card": card, "cache": _short_path(t["teacher_cache"]), "rows (features)": meta.get("rows"),
                     "shape": meta.get("shape"), "dtype": meta.get("dtype"), "seconds": meta.get("seconds")})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# 03 distillation


def run_identity(cfg_dict: Mapping[str, Any]) -> str:
    """Hash of what changes a run's result (not where it is written or how often it logs)."""
    from .distill import RESUME_FREE_KEYS

    root = str(paths.outputs())

    def portable(v: Any) -> Any:  # the same run in another outputs folder has the same identity
        return "<outputs>" + v[len(root):] if isinstance(v, str) and v.startswith(root) else v

    return config_hash({k: portable(v) for k, v in cfg_dict.items() if k not in RESUME_FREE_KEYS})


def distill_card(stage: Stage, card: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Train the card's student with its teacher from 02_teachers (logits from the cache)."""
    teachers = stage.previous("02_teachers")["teachers"]
    cfg = card_config(stage, card, teacher=teachers[card]["teacher"], overrides=overrides,
                      run_name=f"distilled-{card}")
    cd = config_dict(cfg)
    stage.configs[card] = cd
    stage.seeds["train"] = cd.get(K_SEED)
    with stage.timed("train"):
        model = train(cfg)
    return {"card": card, "model": str(model), "run_dir": str(Path(model).parent), "config": cd,
            "config_hash": run_identity(cd), "train": train_metrics(model)}


# --------------------------------------------------------------------------------------------
# Evaluation


def evaluate(stage: Stage, label: str, model: str, datasets: Sequence[str] | None = None, *,
             decoder: str | None = None, out_dir: str | Path | None = None, reuse: bool = True) -> dict[str, Any]:
    """evaluate_model into <results>/eval/<label>, reusing a finished evaluation of the same model
    (weights fingerprint), datasets and settings."""
    from . import evaluate as qevaluate
    from .teacher import model_fingerprint

    prof = stage.profile
    datasets = list(datasets or prof.eval_datasets)
    decoder = decoder or prof.decoder
    out_dir = Path(out_dir or stage.results / "eval" / label)
    fp = model_fingerprint(model)
    window = eval_window(prof, decoder)
    settings = {"decoder": decoder, "limit": prof.eval_limit, "sample": prof.eval_sample,
                "batch_size": prof.eval_batch_size,
                "window": dataclasses.asdict(window)}
    def same(summary_file: Path) -> bool:
        old = qio.read_json(summary_file)
        return (old.get("provenance", {}).get("model_fingerprint") == fp
                and all(old.get("settings", {}).get(k) == v for k, v in settings.items())
                and set(datasets) <= set(old.get("results", {})))

    if reuse:
        if (out_dir / "metrics.json").is_file() and same(out_dir / "metrics.json"):
            return qio.read_json(out_dir / "metrics.json")
        # the same model scored under another label (e.g. one teacher shared by two cards)
        for other in sorted((stage.results / "eval").glob("*/metrics.json")):
            if other.parent != out_dir and same(other):
                tmp = out_dir.with_name(f".{out_dir.name}.copy")
                shutil.rmtree(tmp, ignore_errors=True)
                shutil.copytree(other.parent, tmp)
                shutil.rmtree(out_dir, ignore_errors=True)
                os.replace(tmp, out_dir)  # whole or absent, never half-copied
                return qio.read_json(out_dir / "metrics.json")
    return qevaluate.evaluate_model(
        model, datasets, out_dir, data_dir=stage.data_dir, window=window, decoder=decoder,
        batch_size=prof.eval_batch_size,
        limit=prof.eval_limit, sample=prof.eval_sample, profile=prof.name, device=device(prof),
        precision=prof.precision, label=label,
        extra_provenance={"model_fingerprint": fp})


def eval_window(profile: Profile, decoder: str):
    """Evaluation windows: the decoder's default (qarepro.predict), with the profile's eval_window on top."""
    from . import predict as qpredict

    return dataclasses.replace(qpredict.default_window(decoder), **profile.eval_window)


def models_to_evaluate(stage: Stage) -> list[dict[str, Any]]:
    """Every model 04_evaluate scores: per card the teacher, the distilled student we trained, and
    the published checkpoint where the profile names one."""
    prof = stage.profile
    teachers = stage.previous("02_teachers")["teachers"]
    rows = []
    for card, plan in prof.plans.items():
        distilled = stage.previous("03_distill", card)
        rows.append({"card": card, "role": "teacher", "label": f"teacher-{card}", "model": teachers[card]["teacher"]})
        rows.append({"card": card, "role": "distilled", "label": f"distilled-{card}", "model": distilled["model"]})
        if plan.published:
            rows.append({"card": card, "role": "published", "label": f"published-{card}",
                         "model": resolve_model(plan.published, prof)})
    return rows


def evaluate_all(stage: Stage) -> dict[str, Any]:
    models = models_to_evaluate(stage)
    out = {}
    for m in models:
        with stage.timed(f"evaluate:{m['label']}"):
            summary = evaluate(stage, m["label"], m["model"])
        out[m["label"]] = {**m, "n_parameters": summary.get("n_parameters"),
                           "metrics": {k: v["metrics"] for k, v in summary["results"].items()},
                           "eval_dir": str(stage.results / "eval" / m["label"])}
    return out


def metrics_table(evaluated: Mapping[str, Any], keys: Sequence[str] = ("exact", "f1", "HasAns_f1", "NoAns_f1")):
    import pandas as pd

    rows = []
    for label, m in evaluated.items():
        for ds, met in m["metrics"].items():
            rows.append({"model": label, "card": m.get("card"), "role": m.get("role"), "dataset": ds,
                         **{k: met.get(k) for k in keys}, "total": met.get("total")})
    return pd.DataFrame(rows).round(2)


def reproduced_by_card(evaluated: Mapping[str, Any], ablation_runs: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """{card: {published|distilled|teacher|base: {dataset: metrics}}} for report.compare."""
    out: dict[str, dict[str, Any]] = {}
    for m in evaluated.values():
        out.setdefault(m["card"], {})[m["role"]] = m["metrics"]
    for r in ablation_runs:
        if r.get("is_base") and r.get("metrics"):  # the first baseline run: the card's own seed
            out.setdefault(r["card"], {}).setdefault("base", {}).setdefault(r["dataset"], r["metrics"])
    return out


def measure_speed(model: str, examples, *, batch_size: int = 32, latency_examples: int = 16,
                  device_name: str = "cpu", precision: str = "auto", window=None) -> dict[str, float]:
    """Questions per second over `examples` (batched, model time only) and median latency of one
    question at batch size 1 (all its windows in one batch)."""
    import numpy as np

    from . import features as qfeatures
    from . import predict as qpredict

    qa_model, tok = qpredict.load_model(model)
    feats = qfeatures.build_features(examples, tok, window or qpredict.default_window("hf"), use_cache=False)
    qpredict.compute_logits(qa_model, feats.select(range(min(len(feats), batch_size))), batch_size,
                            device_name, precision)  # warm-up
    t = time.perf_counter()
    qpredict.compute_logits(qa_model, feats, batch_size, device_name, precision)
    batched = time.perf_counter() - t
    index = np.asarray(feats["example_index"])
    lat = []
    for i in range(min(latency_examples, len(examples))):
        rows = np.flatnonzero(index == i).tolist()
        if not rows:
            continue
        sub = feats.select(rows)
        t = time.perf_counter()
        qpredict.compute_logits(qa_model, sub, len(rows), device_name, precision)
        lat.append(time.perf_counter() - t)
    return {"samples_per_s": len(examples) / max(batched, 1e-9), "latency_ms": 1000 * statistics.median(lat) if lat else None,
            "n_questions": len(examples), "n_features": len(feats), "batch_size": batch_size,
            "n_parameters": sum(p.numel() for p in qa_model.parameters())}


def speed_table(stage: Stage, evaluated: Mapping[str, Any]):
    import pandas as pd

    from . import data as qdata

    prof = stage.profile
    examples = qdata.load_examples(prof.primary_dataset, stage.data_dir, limit=prof.speed_cfg.examples)
    rows = []
    for label, m in evaluated.items():
        with stage.timed(f"speed:{label}"):
            s = measure_speed(m["model"], examples, batch_size=prof.speed_cfg.batch_size,
                              latency_examples=prof.speed_cfg.latency_examples, device_name=device(prof),
                              precision=prof.precision, window=eval_window(prof, prof.decoder))
        rows.append({"model": label, "role": m["role"], "card": m["card"], **s})
    return pd.DataFrame(rows).round(2)


def threshold_curves(evaluated: Mapping[str, Any], stage: Stage, dataset: str | None = None):
    """F1/EM against the no-answer threshold per model on `dataset` (default: the primary one)."""
    from . import data as qdata
    from .report import threshold_curve

    dataset = dataset or stage.profile.primary_dataset
    gold = qdata.to_squad_json(qdata.load_examples(dataset, stage.data_dir, limit=stage.profile.eval_limit,
                                                   sample=stage.profile.eval_sample))
    curves = {}
    for label, m in evaluated.items():
        d = Path(m["eval_dir"]) / dataset
        if (d / "predictions.json").is_file() and (d / "na_prob.json").is_file():
            nbest = qio.read_json(d / "nbest.json") if (d / "nbest.json").is_file() else None
            curves[label] = threshold_curve(gold, qio.read_json(d / "predictions.json"),
                                            qio.read_json(d / "na_prob.json"), nbest)
    return curves


# --------------------------------------------------------------------------------------------
# 05 ablations


def ablation_plan(stage: Stage) -> list[dict[str, Any]]:
    """One factor at a time around each card: rows (card, factor, value, seed, overrides, decoder)."""
    prof = stage.profile
    ab = prof.ablation
    rows = []
    for card in ab.cards:
        centre = config_dict(card_config(stage, card))
        seed0 = centre.get(K_SEED, 42)
        base = {"card": card, "seed": seed0, "decoder": prof.decoder}
        for factor in ("temperature", "weight", "loss", "precision", "seed"):
            key = ABLATION_KEYS[factor]
            for value in getattr(ab, factor):
                ov = {key: value}
                if factor == "weight" and float(value) == 0.0:
                    # w = 0 ignores the teacher and the temperature: it is the no-distillation
                    # baseline at this seed, so it is that run (trained once, shared by the cards)
                    ov = {K_SEED: seed0, **NO_DISTILLATION}
                rows.append({**base, "factor": factor, "value": value, "overrides": ov,
                             "seed": value if factor == "seed" else seed0,
                             "center": _same_value(centre.get(key), value)})
        # The claim is "distilled beats not distilled": the baseline needs its seed spread too.
        for value in ab.seed:
            rows.append({**base, "factor": BASELINE_SEED, "value": value, "seed": value, "center": False,
                         "overrides": {K_SEED: value, **NO_DISTILLATION}})
        for dec in ab.decoder:
            rows.append({**base, "factor": "decoder", "value": dec, "overrides": {}, "decoder": dec,
                         "center": dec == prof.decoder})
    return rows


def _is_baseline(row: Mapping[str, Any]) -> bool:
    """A no-distillation row: trained without a teacher, so one run serves every card."""
    return all(row["overrides"].get(k) == v for k, v in NO_DISTILLATION.items())


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) < 1e-12
    return a == b


def run_ablations(stage: Stage, plan: Sequence[Mapping[str, Any]] | None = None):
    """Train each distinct configuration once (runs named by config hash, so a rerun or a shared
    centre point reuses it), then score it on the ablation datasets."""
    import pandas as pd

    prof = stage.profile
    plan = list(plan if plan is not None else ablation_plan(stage))
    teachers = stage.previous("02_teachers")["teachers"]
    datasets = prof.ablation.datasets or [prof.primary_dataset]
    rows = []
    for r in plan:
        card = r["card"]
        cfg = card_config(stage, card, teacher=teachers[card]["teacher"], overrides=r["overrides"])
        h = run_identity(config_dict(cfg))
        distilled = stage.previous("03_distill", card)
        if h == distilled.get("config_hash"):
            model, run = distilled["model"], distilled["run_dir"]  # the card's own run (03_distill)
        else:
            # named by config alone: a configuration two cards share (the no-distillation baseline,
            # or e.g. T 5 / w 0.75 when both cards distil the same teacher) is trained once
            prefix = "baseline" if _is_baseline(r) else "ablation"
            cfg = card_config(stage, card, teacher=teachers[card]["teacher"], overrides=r["overrides"],
                              run_name=f"{prefix}-{h}")
            stage.configs[f"ablation:{card}:{h}"] = config_dict(cfg)
            with stage.timed(f"train:{card}:{h}"):
                model = str(train(cfg))
            run = str(Path(model).parent)
        with stage.timed(f"evaluate:{card}:{h}:{r['decoder']}"):
            summary = evaluate(stage, f"ablation-{card}-{h}-{r['decoder']}", model, datasets, decoder=r["decoder"],
                               out_dir=stage.results / "ablations" / card / f"{h}-{r['decoder']}")
        is_base = _is_baseline(r) and r["decoder"] == prof.decoder
        for ds in datasets:  # a reused evaluation may hold more datasets than this grid asks for
            m = summary["results"][ds]["metrics"]
            rows.append({"card": card, "factor": r["factor"], "value": r["value"], "seed": r["seed"],
                         "decoder": r["decoder"], "center": r["center"], "run": h, "dataset": ds,
                         "exact": m["exact"], "f1": m["f1"], "HasAns_f1": m.get("HasAns_f1"),
                         "NoAns_f1": m.get("NoAns_f1"), "is_base": is_base, "metrics": m, "run_dir": run})
    return pd.DataFrame(rows)


def distillation_gain(runs) -> list[dict[str, Any]]:
    """Per card and dataset: mean F1 of the card's setting over seeds minus mean F1 of the same
    student without distillation (weight 0) over the same seeds, with both seed spreads and the
    per-seed paired differences (one seed only: the two single runs)."""
    out = []
    if not len(runs):
        return out
    for (card, ds), g in runs.groupby(["card", "dataset"]):
        seeded = g[g["factor"] == "seed"]
        centre = seeded if len(seeded) else g[(g["factor"] == "weight") & g["center"]]
        seeded_base = g[g["factor"] == BASELINE_SEED]
        base = seeded_base if len(seeded_base) else g[g["is_base"]]
        if not (len(centre) and len(base)):
            continue
        d, b = centre.groupby("seed")["f1"].mean(), base.groupby("seed")["f1"].mean()
        paired = (d - b).dropna()
        out.append({"card": card, "dataset": ds,
                    "distilled_f1": float(d.mean()), "base_f1": float(b.mean()),
                    "gain": float(d.mean() - b.mean()),
                    "seed_sd": float(d.std()) if len(d) > 1 else None,
                    "base_seed_sd": float(b.std()) if len(b) > 1 else None,
                    "paired_gains": {int(k): float(v) for k, v in paired.items()},
                    "n_seeds": int(len(d))})
    return out


# --------------------------------------------------------------------------------------------
# 06 report


def gather(stage: Stage) -> dict[str, Any]:
    """Everything the report compares: evaluations (04), ablation runs (05), configs (03)."""
    ev = stage.previous("04_evaluate")
    ab = stage.previous("05_ablations")
    configs = {card: stage.previous("03_distill", card).get("config", {}) for card in stage.profile.cards}
    return {"evaluated": ev["models"], "ablation_runs": ab.get("runs", []), "configs": configs,
            "speed": ev.get("speed", []), "gains": ab.get("gains", [])}


def write_markdown(stage: Stage, table, counts: Mapping[str, int]) -> Path:
    """outputs/<profile>/claims_vs_reproduced.md: the verdict table for the README."""
    from . import report

    head = [f"# Claims vs reproduced ({stage.profile.name})", ""]
    if stage.profile.caveat:
        head += [f"**{stage.profile.caveat}.**", ""]
    head += [", ".join(f"{k}: {v}" for k, v in counts.items()), ""]
    dest = stage.results / "claims_vs_reproduced.md"
    with qio.atomic_path(dest) as tmp:
        tmp.write_text("\n".join(head) + report.to_markdown(table), encoding="utf-8")
    return dest


# --------------------------------------------------------------------------------------------
# Preflight: what a stage needs, checked before the notebook starts


def hub_reachable(timeout: float = 3.0) -> bool:
    import socket
    from urllib.parse import urlparse

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
    minutes. Sets the environment (for notebook kernels) and, where already imported, the
    libraries' own switches."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ[var] = "1"
    if "huggingface_hub" in sys.modules:
        with contextlib.suppress(Exception):
            import huggingface_hub.constants as hc

            hc.HF_HUB_OFFLINE = True
    if "datasets" in sys.modules:
        with contextlib.suppress(Exception):
            import datasets.config as dc

            dc.HF_HUB_OFFLINE = True
            dc.HF_DATASETS_OFFLINE = True


def preflight(profile: Profile, stage: str) -> list[str]:
    """Problems that would stop `stage` (each says what is missing and how to supply it)."""
    problems: list[str] = []
    try:
        data_dir(profile)  # the profile's own data files exist
    except PipelineError as err:
        return [str(err)]
    if stage in ("01_data_prep", "02_teachers", "03_distill", "05_ablations"):
        keys = profile.datasets() if stage == "01_data_prep" else profile.train_datasets()
        problems += dataset_problems(profile, keys).values()
    refs: list[tuple[str, str]] = []
    for card, plan in profile.plans.items():
        if stage == "02_teachers" and not plan.teacher.startswith(TINY_PREFIX):
            refs.append((f"teacher of {card}", plan.teacher))
        if stage in ("03_distill", "02_teachers") and plan.student and not plan.student.startswith(TINY_PREFIX):
            refs.append((f"student of {card}", plan.student))
        if stage in ("04_evaluate", "verify") and plan.published:
            refs.append((f"published checkpoint of {card}", plan.published))
    for what, ref in refs:
        msg = _check_model(resolve_model(ref, profile))
        if msg:
            problems.append(f"{what}: {msg}")
    return problems


def dataset_problems(profile: Profile, keys: Sequence[str]) -> dict[str, str]:
    """{key: why it cannot be loaded} for the datasets among `keys` that no source can give."""
    from . import data as qdata

    folder = data_dir(profile)
    out = {}
    for key in keys:
        if folder and (Path(folder) / qdata.REGISTRY[key].filename).is_file():
            continue
        try:
            qdata.load_examples(key, folder, limit=1)
        except qdata.DataSourceError as err:
            out[key] = str(err)
        except qdata.DataError as err:
            out[key] = f"dataset {key}: {err}"
    return out


def _check_model(ref: str) -> str | None:
    from . import models as qmodels

    if ref.startswith(qmodels.PACKAGE_PREFIX):
        try:
            qmodels.package_model_dir(ref[len(qmodels.PACKAGE_PREFIX):])
            return None
        except qmodels.ModelSourceError as err:
            return str(err)
    if Path(ref).expanduser().is_dir():
        return None if (Path(ref) / "config.json").is_file() else f"{ref} holds no config.json"
    try:
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(ref, "config.json"), str):
            return None
    except Exception:  # noqa: BLE001 - any failure means "not cached"
        pass
    if hub_reachable():
        return None
    return (f"model {ref!r} is not a local directory, not in the Hugging Face cache, and the hub cannot be "
            f"reached. Download it where there is network (`huggingface-cli download {ref} --local-dir DIR`) "
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
        from ipykernel.kernelspec import install

        install(kernel_name="python3", prefix=sys.prefix)
    paths_ = [str(prefix_share), *filter(None, os.environ.get("JUPYTER_PATH", "").split(os.pathsep))]
    os.environ["JUPYTER_PATH"] = os.pathsep.join(dict.fromkeys(paths_))


def notebook_path(stage: str) -> Path:
    return paths.NOTEBOOKS / f"{stage}.ipynb"


def _say(msg: str) -> None:
    print(f"[qarepro] {msg}", file=sys.stderr, flush=True)


def run_notebook(stage: str, profile: Profile, card: str | None = None, *, timeout: int | None = None) -> Path:
    """Execute one notebook with papermill; render its reports; then move its metrics JSON onto
    the target. Any failure leaves no target (and the failed notebook under executed/<p>/failed/)."""
    import papermill as pm

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
    for var, val in QUIET_ENV:
        os.environ.setdefault(var, val)
    env_backup = os.environ.get(STAGE_OUTPUT_ENV)
    os.environ[STAGE_OUTPUT_ENV] = str(staging)
    t0 = time.perf_counter()
    _say(f"{profile.name}: running {name} ...")
    try:
        pm.execute_notebook(str(notebook_path(stage)), str(tmp_nb), parameters=params, kernel_name="python3",
                            progress_bar=False, cwd=str(paths.NOTEBOOKS), execution_timeout=timeout)
        if not staging.is_file():
            raise PipelineError(f"{stage} finished without writing its metrics JSON (pipeline.finish was not called)")
        from .report import render_notebook

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
    _say(f"{profile.name}: {name} done in {time.perf_counter() - t0:.0f} s -> {_short_path(str(tgt))}")
    return tgt


def run_stage(stage: str, profile: Profile, card: str | None = None, *, force: bool = False) -> Path:
    """Run a stage; 03_distill without a card runs every card (skipping finished ones) and then
    writes the stage index."""
    if card is not None and stage not in PER_CARD_STAGES:
        raise PipelineError(f"{stage} runs once for all cards; --card is only for {', '.join(PER_CARD_STAGES)}")
    if stage in PER_CARD_STAGES and card is None:
        from . import provenance

        index: dict[str, Any] = {"stage": stage, "profile": profile.name, "cards": {}}
        for c in profile.cards:
            t = target(profile.name, stage, c)
            if force or not t.is_file():
                run_notebook(stage, profile, c)
            else:
                _say(f"{profile.name}: {stage}-{c} already done ({_short_path(str(t))})")
            index["cards"][c] = str(t)
        index["provenance"] = provenance.collect(profile=profile.to_dict())
        return qio.write_json(target(profile.name, stage), index)
    return run_notebook(stage, profile, card)


def _preflight_or_exit(profile: Profile, stage: str) -> None:
    problems = preflight(profile, stage)
    if problems:
        lines = [f"qarepro: cannot run {stage} for profile {profile.name!r}: {len(problems)} missing input(s)."]
        lines += [f"  - {p}" for p in problems]
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2)


def verify(profile: Profile) -> int:
    """Score the published checkpoints on every dataset their cards name that can be loaded
    (the others are reported "not run"); print and save claims vs reproduced."""
    from . import provenance, report

    cards = [c for c, p in profile.plans.items() if p.published]
    if not cards:
        print(f"qarepro: profile {profile.name} names no published checkpoint: nothing to verify", file=sys.stderr)
        return 2
    stage = start("04_evaluate", profile)
    wanted = list(dict.fromkeys(d for c in cards for d in report.load_claims(c).datasets() if d in profile.eval_datasets))
    missing = dataset_problems(profile, wanted)
    for key, why in missing.items():
        _say(f"verify: skipping {key} (reported as not run): {why}")
    reproduced: dict[str, Any] = {}
    for card in cards:
        datasets = [d for d in report.load_claims(card).datasets() if d in wanted and d not in missing]
        if not datasets:
            continue
        model = resolve_model(profile.plans[card].published, profile)
        summary = evaluate(stage, f"published-{card}", model, datasets)
        reproduced[card] = {"published": {k: v["metrics"] for k, v in summary["results"].items()}}
    table = report.compare_all(reproduced, tolerance=profile.tolerance, models=["published"], cards=cards)
    counts = report.verdict_counts(table)
    print(report.to_markdown(report.wide_table(table)))
    print(", ".join(f"{k}: {v}" for k, v in counts.items()))
    out = {"stage": "verify", "profile": profile.name, "counts": counts, "skipped": missing,
           "table": table.to_dict(orient="records"),
           "provenance": provenance.collect(profile=profile.to_dict(), datasets=stage.fingerprints)}
    target_ = results_dir(profile.name) / "verify.json"
    qio.write_json(target_, _plain(out))
    fig = report.plot_claimed_vs_reproduced(table, title="Published checkpoints: claimed vs re-scored F1")
    page = report.html_page(f"Published checkpoints vs their claims ({profile.name})",
                            [", ".join(f"{k}: {v}" for k, v in counts.items()), report.wide_table(table), fig, table])
    dest = paths.reports(profile.name) / "verify.html"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with qio.atomic_path(dest) as tmp:
        tmp.write_text(page, encoding="utf-8")
    _say(f"verify: {_short_path(str(target_))}, {_short_path(str(dest))}")
    return 0


def collect_metrics(outputs_root: str | Path, profile: str) -> dict[str, Any]:
    """Every metrics JSON of a profile's run, without volatile parts (timings, provenance, paths)."""
    from .provenance import strip_volatile

    root = Path(outputs_root) / profile
    out = {}
    for f in sorted(root.rglob("*.json")):
        rel = f.relative_to(root)
        if rel.parts[0] in (".staging", "data") or f.name in ("predictions.json", "nbest.json", "na_prob.json"):
            continue
        if f.name == "metrics.json" or rel.parent == Path("."):
            out[str(rel)] = _metric_values(strip_volatile(qio.read_json(f)))
    return out


def _metric_values(obj: Any) -> Any:
    """Only numbers under metric-like keys: paths and speeds differ between two clean runs."""
    keys = ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1", "best_exact", "best_f1",
            "total", "gain", "claimed", "reproduced", "delta", "verdict", "base_f1", "distilled_f1", "train_loss",
            "global_step", "questions", "answerable", "unanswerable", "fingerprint")
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in keys and not isinstance(v, (dict, list)):
                out[k] = round(v, 6) if isinstance(v, float) else v
            elif isinstance(v, (dict, list)) and k not in ("speed", "run_dir", "timings"):
                sub = _metric_values(v)
                if sub not in ({}, []):
                    out[k] = sub
        return out
    if isinstance(obj, list):
        return [x for x in (_metric_values(v) for v in obj) if x not in ({}, [])]
    return obj


GRID_TABLES = ("05_ablations.json", "06_report.json")  # aggregates over the whole ablation grid


def _is_run_metrics(key: str) -> bool:
    """A model's per-dataset scores (eval/<label>/<dataset>/ or ablations/<card>/<run>-<decoder>/<dataset>/)."""
    parts = Path(key).parts
    return parts[-1] == "metrics.json" and parts[0] in ("eval", "ablations")


def _model_of(key: str) -> str:
    """eval/<label> or ablations/<card>/<run>-<decoder>: the model a metrics file scores."""
    parts = Path(key).parts
    return "/".join(parts[:2] if parts[0] == "eval" else parts[:3])


def compare_runs(a: str | Path, b: str | Path, profile: str, shared_only: bool = False) -> list[str]:
    """Differences between two output folders' metric values ([] when they agree).

    shared_only: compare only what both folders hold, leaving out the tables over the whole grid
    (05_ablations, 06_report), so that two runs of grids of different sizes can be checked on the
    stages and runs they share (ablation folders are named by the run's config hash, so a shared
    name is the same configuration)."""
    return diff_lines(rerun_record(a, b, profile, shared_only=shared_only))


def diff_lines(record: Mapping[str, Any]) -> list[str]:
    """A rerun_record as compare's lines: what only one folder holds (unless shared_only), what differs."""
    a, b = record["a"]["folder"], record["b"]["folder"]
    only = [] if record["shared_only"] else ([f"only in {a}: {k}" for k in record["only_in_a"]]
                                            + [f"only in {b}: {k}" for k in record["only_in_b"]])
    return only + [f"differs: {k}" for k in record["differs"]]


def rerun_record(a: str | Path, b: str | Path, profile: str, shared_only: bool = False) -> dict[str, Any]:
    """What `compare --out` writes: which metrics files two runs share and whether each is the same,
    with the commit and time of each run (from their 01_data_prep provenance)."""
    ma, mb = collect_metrics(a, profile), collect_metrics(b, profile)
    keep = (lambda key: key not in GRID_TABLES) if shared_only else (lambda key: True)
    common = sorted(k for k in set(ma) & set(mb) if keep(k))

    def origin(root: str | Path) -> dict[str, Any]:
        f = Path(root) / profile / "01_data_prep.json"
        prov = qio.read_json(f).get("provenance", {}) if f.is_file() else {}
        return {"folder": str(root), "git": prov.get("git"), "created_utc": prov.get("created_utc")}

    differs = [k for k in common if ma[k] != mb[k]]
    return {"profile": profile, "shared_only": shared_only, "a": origin(a), "b": origin(b),
            "compared": len(common), "identical": len(common) - len(differs), "differs": differs,
            "models_compared": sorted({_model_of(k) for k in common if _is_run_metrics(k)}),
            "only_in_a": sorted(k for k in set(ma) - set(mb) if keep(k)),
            "only_in_b": sorted(k for k in set(mb) - set(ma) if keep(k))}


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m qarepro.pipeline", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run one notebook (stage) of a profile")
    r.add_argument("stage", choices=STAGES)
    r.add_argument("--profile", default="full")
    r.add_argument("--card", default=None)
    r.add_argument("--force", action="store_true", help="03_distill: rerun cards that are already done")
    f = sub.add_parser("preflight", help="check what a stage needs")
    f.add_argument("--profile", default="full")
    f.add_argument("--stage", default="01_data_prep", choices=[*STAGES, "verify"])
    v = sub.add_parser("verify", help="published checkpoints against their claims")
    v.add_argument("--profile", default="full")
    c = sub.add_parser("compare", help="do two output folders hold the same metric values?")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--profile", default="smoke")
    c.add_argument("--shared-only", action="store_true",
                   help="only what both folders hold, without the whole-grid tables (two runs of different grids)")
    c.add_argument("--out", default=None, help="also write the comparison as JSON")
    sub.add_parser("stages", help="list the stages")
    args = p.parse_args(argv)

    if args.cmd == "stages":
        print("\n".join(STAGES))
        return 0
    if args.cmd == "compare":
        record = rerun_record(args.a, args.b, args.profile, shared_only=args.shared_only)
        diffs = diff_lines(record)
        if args.out:
            qio.write_json(args.out, record)
            print(f"{record['identical']} of {record['compared']} metrics files identical -> {args.out}")
        print("\n".join(diffs) if diffs else f"same metric values in {args.a} and {args.b}")
        return 1 if diffs else 0
    if not hub_reachable():
        go_offline()  # before the hub libraries are imported: they read the switch once
    # `kill` (SIGTERM) unwinds like Ctrl-C, so a stage's partial outputs are cleaned up
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        profile = load_profile(args.profile)
    except ConfigError as err:
        print(f"qarepro: {err}", file=sys.stderr)
        return 2
    if args.cmd == "preflight":
        _preflight_or_exit(profile, args.stage)
        print(f"preflight {args.stage} for profile {profile.name}: ok")
        return 0
    try:
        if args.cmd == "verify":
            _preflight_or_exit(profile, "verify")
            return verify(profile)
        _preflight_or_exit(profile, args.stage)
        ensure_kernel()
        run_stage(args.stage, profile, args.card, force=args.force)
        return 0
    except (PipelineError, ConfigError) as err:
        print(f"qarepro: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("qarepro: interrupted; the stage left no target and will run again", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
