"""The model cards' numbers (configs/claims/<card>.yaml), loaded and checked strictly.

A claims file holds every number of one card with its source: the model-index rows (hub
evaluation results), the card's own "Performance" block, the distillation guide's base /
teacher / distilled F1, the distillation gain the guide states, and the card's training facts.
`load_claims` rejects unknown keys, missing keys, wrong types and dangling references, naming the
file and the entry.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import config, paths
from .config import ConfigError

SOURCES = ("model-index", "performance", "guide", "card")
SUBJECTS = ("distilled", "base", "teacher")
METRICS = ("exact", "f1")
CARDS = ("roberta-base-squad2-distilled", "bert-medium-squad2-distilled")


@dataclass
class Tolerance:
    published: float = 0.5
    retrained: float = 1.5
    gain: float = 1.0


@dataclass
class ScoreClaim:
    id: str
    source: str = config.field(choices=SOURCES)
    subject: str = config.field(choices=SUBJECTS)
    dataset: str = config.field(help="qarepro.data registry key")
    verified: bool = config.field(help="hub-verified number")
    exact: float | None = None
    f1: float | None = None
    hub: dict[str, Any] | None = None
    note: str | None = None

    def metrics(self) -> dict[str, float]:
        return {m: getattr(self, m) for m in METRICS if getattr(self, m) is not None}


@dataclass
class GainClaim:
    id: str
    source: str = config.field(choices=SOURCES)
    dataset: str = config.field()
    metric: str = config.field(choices=METRICS)
    value: float = config.field()
    of: str = config.field(help="id of the distilled score claim")
    over: str = config.field(help="id of the baseline score claim")
    note: str | None = None


@dataclass
class Fact:
    key: str
    value: Any
    source: str = config.field(choices=SOURCES)
    config_key: str | None = None
    note: str | None = None


@dataclass
class Claims:
    card: str
    model: str
    card_url: str
    teacher: str
    student_init: str
    primary_dataset: str
    metric_scale: str = config.field(choices=["percent"])
    tolerance: dict[str, Any] = config.field({})
    scores: list[Any] = config.field([])
    gains: list[Any] = config.field([])
    facts: list[Any] = config.field([])
    path: str = ""

    def tolerances(self) -> Tolerance:
        return self.tolerance  # type: ignore[return-value]  (converted in load_claims)

    def score(self, claim_id: str) -> ScoreClaim:
        for s in self.scores:
            if s.id == claim_id:
                return s
        raise KeyError(claim_id)

    def datasets(self) -> list[str]:
        """Every dataset the card names, primary first."""
        seen = [self.primary_dataset]
        for s in self.scores:
            if s.dataset not in seen:
                seen.append(s.dataset)
        return seen


def claims_path(card_or_path: str | Path) -> Path:
    p = Path(card_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    return paths.CLAIMS / f"{card_or_path}.yaml"


def load_claims(card_or_path: str | Path) -> Claims:
    """Load and validate one claims file (a card name or a path)."""
    path = claims_path(card_or_path)
    raw = config.load_yaml(path)
    src = str(path)
    top = {k: v for k, v in raw.items() if k not in ("scores", "gains", "facts", "tolerance")}
    claims = config.from_mapping(Claims, {**top, "scores": [], "gains": [], "facts": []}, src)
    claims.path = src
    claims.tolerance = config.from_mapping(Tolerance, raw.get("tolerance") or {}, f"{src}: tolerance")
    for key, cls in (("scores", ScoreClaim), ("gains", GainClaim), ("facts", Fact)):
        items = raw.get(key) or []
        if not isinstance(items, list):
            raise ConfigError(f"{src}: key {key!r}: expected a list")
        rows = [config.from_mapping(cls, item, f"{src}: {key}[{i}]") for i, item in enumerate(items)]
        setattr(claims, key, rows)
    _validate(claims, src)
    return claims


def _validate(c: Claims, src: str) -> None:
    if not c.scores:
        raise ConfigError(f"{src}: no scores")
    ids = [s.id for s in c.scores]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ConfigError(f"{src}: duplicate score id(s) {dup}")
    for i, s in enumerate(c.scores):
        where = f"{src}: scores[{i}] ({s.id})"
        if not s.metrics():
            raise ConfigError(f"{where}: needs exact and/or f1")
        for m, v in s.metrics().items():
            if not 0.0 <= v <= 100.0:
                raise ConfigError(f"{where}: {m} = {v} is not a percentage")
        if s.source == "model-index" and (s.exact is None or s.f1 is None or not s.hub):
            raise ConfigError(f"{where}: a model-index row needs exact, f1 and hub (name/type/config/split)")
        if s.hub is not None:
            missing = sorted({"name", "type", "config", "split"} - set(s.hub))
            if missing:
                raise ConfigError(f"{where}: hub lacks {missing}")
    if not any(s.source == "model-index" and s.dataset == c.primary_dataset for s in c.scores):
        raise ConfigError(f"{src}: no model-index row for the primary dataset {c.primary_dataset!r}")
    for i, g in enumerate(c.gains):
        where = f"{src}: gains[{i}] ({g.id})"
        for ref in (g.of, g.over):
            if ref not in ids:
                raise ConfigError(f"{where}: refers to unknown score id {ref!r}")
        a, b = getattr(c.score(g.of), g.metric), getattr(c.score(g.over), g.metric)
        if a is None or b is None:
            raise ConfigError(f"{where}: {g.of} or {g.over} has no {g.metric}")
        if abs((a - b) - g.value) > 0.051:
            raise ConfigError(f"{where}: value {g.value} is not {g.of} - {g.over} = {a - b:.2f}")


def load_all() -> dict[str, Claims]:
    """Every claims file in configs/claims/, by card name."""
    return {p.stem: load_claims(p) for p in sorted(paths.CLAIMS.glob("*.yaml"))}


def to_dict(c: Claims) -> dict[str, Any]:
    return dataclasses.asdict(c)
