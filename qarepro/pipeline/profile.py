"""Profiles: which models, datasets and settings a run of the six notebooks uses.

A profile is configs/profiles/<name>.yaml, loaded strictly (`load_profile`): `full` reproduces
the cards (hub models, GPU), `smoke` checks the machinery offline in minutes (tiny models on the
fixture sample). Nested sections (cards, tiny_models, ablations, speed) are checked as strictly
as the top level, and the ablation values by the distillation config they go into.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from .. import claims as qclaims
from .. import config, decode, paths
from .. import predict as qpredict
from ..config import ConfigError
from ..data import REGISTRY
from ..distill_config import NO_DISTILLATION, DistillConfig, load_distill_config
from ..report import PIPELINE_CHECK, POCKET

TINY_PREFIX = "tiny:"
TEACHER_FACTOR = "teacher"  # the paired factor "which teacher": not a DistillConfig field, a fine-tune recipe
PROFILE_TEACHER = "finetuned"  # its value for the profile's own teacher (02_teachers)

# The ablation factors, one line each: the key under a profile's `ablations` -> the DistillConfig
# field it varies. The profile's values get that field's type, and are checked by building each
# ablated card's DistillConfig with them (its types, choices and ranges); ablation_plan varies
# them in this order.
ABLATION_FACTORS: dict[str, str] = {
    "temperature": "temperature",
    "weight": "distillation_loss_weight",
    "loss": "loss_variant",
    "precision": "precision",  # the student's training precision; the teacher cache and scoring keep theirs
    "correct_bias": "correct_bias",  # Adam's bias correction: the cards' false vs the standard optimiser
    "train_size": "max_train_examples",  # training questions (the first N of the training set)
    "seed": "seed",
}


@dataclass
class CardPlan:
    """How a profile runs one card."""
    teacher: str = config.field(help="hub id, local directory, or tiny:<name> (built by 02_teachers)")
    finetune_teacher: bool = config.field(False, help="fine-tune the teacher first (no fine-tuned teacher offline)")
    student: str | None = config.field(None, help="student initialisation; None: the card config's own")
    published: str | None = config.field(None, help="the card's published checkpoint (hub id or directory)")
    distill_config: str | None = config.field(None, help="distillation config name or path; None: the card name")
    overrides: dict[str, Any] = config.field({}, help="distillation config overrides for this card")


_DISTILL_TYPES = typing.get_type_hints(DistillConfig)

Ablations = dataclasses.make_dataclass("Ablations", [
    ("cards", list[str], config.field([], help="the cards ablated (each one of the profile's cards)")),
    *[(factor, list[_DISTILL_TYPES[key]], config.field([], help=f"values of DistillConfig.{key}"))
      for factor, key in ABLATION_FACTORS.items()],
    ("paired", list[str], config.field([], help="factors whose every value runs with and without distillation "
                                                "at every seed (a paired gain per value)")),
    ("paired_cards", list[str], config.field([], help="the cards the paired factors run for (empty: every "
                                                      "ablated card)")),
    ("teacher", list[str], config.field([], help="teachers a student learns from: 'finetuned' (the profile's own) "
                                                 "or names of the profile's teacher_variants (a paired factor)")),
    ("seeds_by_value", dict[str, Any], config.field({}, help="paired factor -> {value: seeds}: the seeds that "
                                                            "value runs at instead of `seed`")),
    ("decoder", list[str], config.field([], help="decoders the card's own run is also scored with")),
    ("datasets", list[str] | None, config.field(None, help="evaluated on these; None: the primary dataset")),
], namespace={"__doc__": "One factor at a time around each card's own setting (factors: ABLATION_FACTORS)."})


@dataclass
class Speed:
    examples: int = config.field(64, ge=1)
    batch_size: int = config.field(32, ge=1)
    latency_examples: int = config.field(16, ge=1)
    repeats: int = config.field(3, ge=1)  # timings of each model: the reports give the median and the range


@dataclass
class TinyModel:
    family: str = config.field(choices=["bert", "roberta"])
    hidden_size: int = config.field(32, ge=1)
    num_layers: int = config.field(2, ge=1)
    num_heads: int = config.field(2, ge=1)
    intermediate_size: int = config.field(64, ge=1)
    vocab_size: int = config.field(1000, ge=1)
    seed: int = config.field(0, ge=0)
    tokenizer_from: str | None = config.field(None, help="share this tiny model's tokenizer (teacher/student pairs)")


@dataclass
class Profile:
    name: str
    description: str
    purpose: str = config.field(choices=["reproduction", "pipeline_check", "pocket"])
    eval_datasets: list[str] = config.field(help="registry keys every model is scored on")
    cards: dict[str, Any] = config.field(help="card name -> CardPlan")
    device: str = config.field("auto", choices=["auto", "cuda", "cpu"])
    threads: int | None = config.field(None, ge=1, help="torch CPU threads (None: torch's default)")
    data_dir: str | None = config.field(None, help="folder of SQuAD JSON files; None: $QAREPRO_DATA_DIR, then the hub")
    data_files: dict[str, Any] = config.field({}, help="registry key -> local file (relative to the repository)")
    train_data: str | None = config.field(None, help="training set for every run; None: the card config's")
    primary_dataset: str = "squad_v2-validation"
    eval_limit: int | None = config.field(None, ge=1, help="score only the first N questions of each dataset")
    eval_sample: int | None = config.field(None, ge=1, help="score N questions spread evenly over each dataset")
    eval_samples: dict[str, int] = config.field({}, help="registry key -> N: that dataset's sample size "
                                                         "(overrides eval_sample)")
    eval_batch_size: int = config.field(32, ge=1)
    decoder: str = config.field("hf", choices=decode.METHODS)
    precision: str = config.field("auto", choices=config.choices(DistillConfig, "precision"))
    eval_window: dict[str, Any] = config.field({}, help="WindowConfig fields for evaluation (default: the decoder's)")
    eval_padding: str = config.field("max_length", choices=["max_length", "dynamic"],
                                     help="max_length: windows at full length (the cards' and run_qa's); dynamic: "
                                          "length-sorted batches cut to their longest window (outputs/bench/scoring_speed.json)")
    tiny_models: dict[str, Any] = config.field({}, help="name -> TinyModel (qarepro.tiny)")
    tiny_texts: list[str] = config.field([], help="files whose text trains the tiny tokenizers")
    teacher_finetune: dict[str, Any] = config.field({}, help="config overrides when a teacher is fine-tuned")
    teacher_variants: dict[str, Any] = config.field({}, help="name -> teacher_finetune overrides: other teachers "
                                                             "for the ablations' `teacher` factor")
    ablations: dict[str, Any] = config.field({})
    speed: dict[str, Any] = config.field({})
    tolerance: float | None = config.field(None, ge=0, help="EM/F1 points; None: the claims files' own")

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
        return {"pipeline_check": PIPELINE_CHECK, "pocket": POCKET}.get(self.purpose)

    def sample_of(self, dataset: str) -> int | None:
        """Questions scored on `dataset` (spread evenly over it); None: all of them."""
        return self.eval_samples.get(dataset, self.eval_sample)

    def train_datasets(self) -> list[str]:
        """The training set of every card: the profile's, else each card config's own."""
        if self.train_data:
            return [self.train_data]
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


def profile_fingerprint(profile: Profile | Mapping[str, Any]) -> str:
    """Short hash of a profile's resolved contents: what each stage JSON records it ran under."""
    d = profile.to_dict() if isinstance(profile, Profile) else dict(profile)
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


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
    for key in [*prof.eval_datasets, prof.primary_dataset, *(prof.train_data and [prof.train_data] or []),
                *prof.data_files, *prof.eval_samples]:
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
    decoders = config.choices(Profile, "decoder")
    for decoder in decoders:
        try:
            eval_window(prof, decoder)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{src}: eval_window: {err}") from None
    ab = prof.ablation
    for card in ab.cards:
        if card not in prof.cards:
            raise ConfigError(f"{src}: ablations.cards: {card!r} is not in cards")
    for key, n in prof.eval_samples.items():
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"{src}: eval_samples.{key}: expected a positive number of questions, got {n!r}")
    pairable = [f for f in ABLATION_FACTORS if f != "seed"] + [TEACHER_FACTOR]
    for factor in ab.paired:
        if factor not in pairable:
            raise ConfigError(f"{src}: ablations.paired: {factor!r} is not a factor that can be paired "
                              f"(one of {', '.join(pairable)})")
        if not getattr(ab, factor):
            raise ConfigError(f"{src}: ablations.paired: {factor!r} has no values (ablations.{factor} is empty)")
        if not ab.seed:
            raise ConfigError(f"{src}: ablations.paired needs ablations.seed (the seeds each value runs at)")
    _check_teachers(prof, src)
    _check_seeds_by_value(ab, src)
    for card in ab.paired_cards:
        if card not in (ab.cards or prof.cards):
            raise ConfigError(f"{src}: ablations.paired_cards: {card!r} is not one of the ablated cards")
    for d in ab.decoder:
        if d not in decoders:
            raise ConfigError(f"{src}: ablations.decoder: {d!r} is not one of {list(decoders)}")
    _check_card_configs(prof, src)
    for factor, key in ABLATION_FACTORS.items():
        for value in getattr(ab, factor):
            for card in ab.cards or prof.plans:
                plan = prof.plans[card]
                try:
                    load_distill_config(plan.distill_config or card, {**plan.overrides, key: value})
                except ConfigError as err:
                    raise ConfigError(f"{src}: ablations.{factor}: {value!r} does not fit card {card}: {err}") from None


def _check_teachers(prof: Profile, src: str) -> None:
    for name, overrides in prof.teacher_variants.items():
        if name == PROFILE_TEACHER or not isinstance(overrides, dict):
            raise ConfigError(f"{src}: teacher_variants.{name}: expected a mapping of teacher_finetune overrides "
                              f"under a name other than {PROFILE_TEACHER!r}")
        for card, plan in prof.plans.items():
            try:
                load_distill_config(plan.distill_config or card, {**plan.overrides, **prof.teacher_finetune,
                                                                   **overrides})
            except ConfigError as err:
                raise ConfigError(f"{src}: teacher_variants.{name}: {err}") from None
    for value in prof.ablation.teacher:
        if value != PROFILE_TEACHER and value not in prof.teacher_variants:
            raise ConfigError(f"{src}: ablations.teacher: {value!r} is neither {PROFILE_TEACHER!r} nor a name "
                              f"in teacher_variants ({', '.join(prof.teacher_variants) or 'none'})")
    if prof.ablation.teacher and not all(prof.plans[c].finetune_teacher for c in prof.ablation.paired_cards
                                         or prof.ablation.cards or prof.plans):
        raise ConfigError(f"{src}: ablations.teacher needs cards whose teacher is fine-tuned (finetune_teacher)")


def _check_seeds_by_value(ab, src: str) -> None:
    for factor, by_value in ab.seeds_by_value.items():
        if factor not in ab.paired:
            raise ConfigError(f"{src}: ablations.seeds_by_value.{factor}: not one of the paired factors "
                              f"({', '.join(ab.paired) or 'none'})")
        if not isinstance(by_value, dict):
            raise ConfigError(f"{src}: ablations.seeds_by_value.{factor}: expected value -> list of seeds")
        values = [str(v) for v in getattr(ab, factor)]
        for value, seeds in by_value.items():
            if str(value) not in values:
                raise ConfigError(f"{src}: ablations.seeds_by_value.{factor}: {value!r} is not one of its "
                                  f"values ({', '.join(values)})")
            if (not isinstance(seeds, list) or not seeds
                    or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds)
                    or len(set(seeds)) != len(seeds)):
                raise ConfigError(f"{src}: ablations.seeds_by_value.{factor}.{value}: expected a list of distinct "
                                  f"integer seeds, got {seeds!r}")


def headline_datasets(profile: Profile) -> list[str]:
    """The sets the grid is scored on (the headline sets): ablations.datasets, else the primary set."""
    return list(profile.ablation.datasets or [profile.primary_dataset])


def required_datasets(profile: Profile) -> list[str]:
    """The sets without which a run stops: the training sets, the primary set and the sets the grid
    is scored on. Any other evaluation set that cannot be had is reported "not run" instead."""
    return list(dict.fromkeys([*profile.train_datasets(), profile.primary_dataset, *headline_datasets(profile)]))


def seeds_for(ab, factor: str, value: Any) -> list[int]:
    """The seeds a paired factor's value runs at: seeds_by_value where it names the value, else `seed`."""
    by_value = {str(k): v for k, v in (ab.seeds_by_value.get(factor) or {}).items()}
    return list(by_value.get(str(value), ab.seed))


def _check_card_configs(prof: Profile, src: str) -> None:
    """Each card's distillation config with its overrides, and its teacher fine-tune where it has one."""
    for card, plan in prof.plans.items():
        runs = {f"cards.{card}.overrides": plan.overrides}
        if plan.finetune_teacher:  # the teacher trained as a student, as 02_teachers does
            runs["teacher_finetune"] = {**plan.overrides, **NO_DISTILLATION, "student": plan.teacher,
                                        **prof.teacher_finetune}
        for where, overrides in runs.items():
            try:
                load_distill_config(plan.distill_config or card, overrides)
            except ConfigError as err:
                raise ConfigError(f"{src}: {where}: {err}") from None


def eval_window(profile: Profile, decoder: str):
    """Evaluation windows: the decoder's default (qarepro.predict), with the profile's eval_window on top."""
    return dataclasses.replace(qpredict.default_window(decoder), **profile.eval_window)
