"""qarepro.claims: the claims files of both cards, complete, well formed and consistent."""

from __future__ import annotations

import dataclasses
import math

import pytest

from qarepro import claims as qclaims
from qarepro import paths, report
from qarepro.config import ConfigError

CARDS = ("roberta-base-squad2-distilled", "bert-medium-squad2-distilled")

# The headline numbers of both cards, as a guard against accidental edits of the claims files
# (the full set is checked for completeness and consistency below).
EXPECTED = {
    ("roberta-base-squad2-distilled", "model-index/squad_v2"): {"exact": 80.8593, "f1": 84.0104},
    ("roberta-base-squad2-distilled", "model-index/squad"): {"exact": 86.225, "f1": 92.483},
    ("roberta-base-squad2-distilled", "model-index/adversarial_qa"): {"exact": 29.900, "f1": 41.183},
    ("roberta-base-squad2-distilled", "model-index/squad_adversarial-AddOneSent"): {"exact": 79.071, "f1": 84.472},
    ("roberta-base-squad2-distilled", "model-index/squadshifts-amazon"): {"exact": 70.733, "f1": 83.958},
    ("roberta-base-squad2-distilled", "model-index/squadshifts-new_wiki"): {"exact": 82.011, "f1": 91.092},
    ("roberta-base-squad2-distilled", "model-index/squadshifts-nyt"): {"exact": 84.203, "f1": 91.521},
    ("roberta-base-squad2-distilled", "model-index/squadshifts-reddit"): {"exact": 72.029, "f1": 83.454},
    ("roberta-base-squad2-distilled", "performance"): {"exact": 79.8366040596311, "f1": 83.916407079888},
    ("roberta-base-squad2-distilled", "guide/base"): {"f1": 82.6},
    ("roberta-base-squad2-distilled", "guide/teacher"): {"f1": 87.9},
    ("roberta-base-squad2-distilled", "guide/distilled"): {"f1": 83.9},
    ("bert-medium-squad2-distilled", "model-index/squad_v2"): {"exact": 69.8231, "f1": 72.9232},
    ("bert-medium-squad2-distilled", "performance"): {"exact": 68.6431398972458, "f1": 72.7637083790805},
    ("bert-medium-squad2-distilled", "guide/base"): {"f1": 69.6},
    ("bert-medium-squad2-distilled", "guide/teacher"): {"f1": 83.2},
    ("bert-medium-squad2-distilled", "guide/distilled"): {"f1": 72.8},
}

BASE = """card: x
model: deepset/x
card_url: https://example.org
teacher: t
student_init: s
primary_dataset: squad_v2-validation
metric_scale: percent
scores:
  - {id: model-index/squad_v2, source: model-index, subject: distilled, dataset: squad_v2-validation,
     hub: {name: squad_v2, type: squad_v2, config: squad_v2, split: validation}, exact: 80, f1: 84, verified: true}
  - {id: guide/base, source: guide, subject: base, dataset: squad_v2-validation, f1: 82, verified: false}
"""


def test_every_card_has_a_claims_file_and_nothing_else():
    assert sorted(qclaims.load_all()) == sorted(CARDS)


@pytest.mark.parametrize("card", CARDS)
def test_claims_are_complete_and_well_formed(card):
    from qarepro.data import REGISTRY

    c = qclaims.load_claims(card)
    assert c.card == card and c.model == f"deepset/{card}"
    ids = {s.id for s in c.scores}
    # the card's own Performance block and the guide's three numbers
    assert {"performance", "guide/base", "guide/teacher", "guide/distilled"} <= ids
    # the hub-verified row of the primary dataset
    primary = [s for s in c.scores if s.source == "model-index" and s.dataset == c.primary_dataset]
    assert len(primary) == 1 and primary[0].verified and primary[0].exact and primary[0].f1
    for s in c.scores:
        assert s.dataset in REGISTRY, s.dataset
        if s.source == "model-index":
            assert s.hub and set(s.hub) == {"name", "type", "config", "split"}
    # the claim the ablations test: distilled beats the same student trained without distillation
    (gain,) = c.gains
    assert math.isclose(gain.value, c.score("guide/distilled").f1 - c.score("guide/base").f1, abs_tol=0.051)
    assert 0 < c.tolerance.published <= c.tolerance.retrained


def test_roberta_card_names_eight_datasets_in_its_model_index():
    c = qclaims.load_claims("roberta-base-squad2-distilled")
    rows = [s for s in c.scores if s.source == "model-index"]
    assert len(rows) == 8 and len({s.dataset for s in rows}) == 8
    assert [s.verified for s in rows].count(True) == 1


@pytest.mark.parametrize("key, numbers", EXPECTED.items(), ids=lambda v: "/".join(v) if isinstance(v, tuple) else "")
def test_headline_numbers(key, numbers):
    card, claim_id = key
    assert qclaims.load_claims(card).score(claim_id).metrics() == numbers


@pytest.mark.parametrize("card", CARDS)
def test_card_facts_agree_with_the_card_config(card):
    """Every training fact with a config key equals the card's own distillation config."""
    from qarepro.distill import DistillConfig, load_distill_config

    c = qclaims.load_claims(card)
    cfg = dataclasses.asdict(load_distill_config(card))
    names = {f.name for f in dataclasses.fields(DistillConfig)}
    keyed = [f for f in c.facts if f.config_key]
    assert {f.key for f in keyed} >= {"batch_size", "n_epochs", "learning_rate", "temperature",
                                      "distillation_loss_weight", "max_seq_len", "teacher"}
    for f in keyed:
        assert f.config_key in names
    table = report.compare_facts(c, cfg)
    assert set(table.loc[table["fact"].isin([f.key for f in keyed]), "status"]) == {"same"}


@pytest.mark.parametrize("extra, message", [
    ("colour: red\n", "unknown key(s) 'colour'"),
    ("gains:\n  - {id: g, source: guide, dataset: squad_v2-validation, metric: f1, value: 2, of: model-index/squad_v2, over: nope}\n",
     "unknown score id 'nope'"),
    ("gains:\n  - {id: g, source: guide, dataset: squad_v2-validation, metric: f1, value: 5, of: model-index/squad_v2, over: guide/base}\n",
     "is not model-index/squad_v2 - guide/base"),
    ("tolerance: {published: fast}\n", "expected a number"),
])
def test_malformed_claims_are_rejected_naming_file_and_key(tmp_path, extra, message):
    p = tmp_path / "x.yaml"
    p.write_text(BASE + extra)
    with pytest.raises(ConfigError) as err:
        qclaims.load_claims(p)
    assert message in str(err.value) and "x.yaml" in str(err.value)


@pytest.mark.parametrize("old, new, message", [
    ("exact: 80, f1: 84, verified: true", "verified: true", "needs exact and/or f1"),
    ("f1: 82, verified: false", "f1: 820, verified: false", "not a percentage"),
    ("subject: base", "subject: baseline", "'baseline' is not one of"),
    ("    hub: {name: squad_v2, type: squad_v2, config: squad_v2, split: validation}, ", "    ", "needs exact, f1 and hub"),
])
def test_bad_score_rows_are_rejected(tmp_path, old, new, message):
    p = tmp_path / "x.yaml"
    text = BASE.replace(old, new)
    assert text != BASE
    p.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        qclaims.load_claims(p)


def test_claims_directory_is_where_paths_says():
    assert qclaims.claims_path("bert-medium-squad2-distilled") == paths.CLAIMS / "bert-medium-squad2-distilled.yaml"
