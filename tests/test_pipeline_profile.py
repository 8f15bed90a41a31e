"""qarepro.pipeline.profile: profiles load strictly; ablation values are checked by DistillConfig."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from qarepro import claims, config, decode, pipeline
from qarepro.config import ConfigError
from qarepro.distill import DistillConfig
from qarepro.pipeline import profile as qprofile


def test_profiles_load_strictly():
    smoke, full = pipeline.load_profile("smoke"), pipeline.load_profile("full")
    assert smoke.is_check and smoke.device == "cpu" and smoke.data_files and smoke.tiny_models
    assert not full.is_check and full.device == "cuda" and not full.tiny_models
    for card, plan in full.plans.items():
        assert plan.overrides == {} and plan.published == f"deepset/{card}" and "/" in plan.teacher
    # full: every dataset any card names is evaluated
    named = {s.dataset for c in claims.load_all().values() for s in c.scores}
    assert named <= set(full.eval_datasets)
    # the full ablation grid of the issue
    ab = full.ablation
    assert ab.temperature == [1, 1.5, 2, 3, 5] and ab.weight == [0, 0.25, 0.5, 0.75, 1]
    assert set(ab.loss) == {"haystack", "hf"} and set(ab.decoder) == {"hf", "haystack"} and ab.seed == [42, 43, 44]

@pytest.mark.parametrize("text, message", [
    ("colour: red\n", "unknown key(s) 'colour'"),
    ("cards: {roberta-base-squad2-distilled: {teacher: t, finetune: true}}\n", "cards.roberta-base-squad2-distilled: unknown key(s) 'finetune'"),
    ("cards: {nope: {teacher: t}}\n", "no claims file"),
    ("eval_datasets: [squad_v3]\n", "'squad_v3' is not a registry key"),
    ("ablations: {weight: [2]}\n", "ablations.weight: 2.0 does not fit card"),
    ("ablations: {weight: [2]}\n", "distillation_loss_weight must be in [0, 1]"),
    ("ablations: {seeds: [1]}\n", "ablations: unknown key(s) 'seeds'"),
    ("device: tpu\n", "'tpu' is not one of"),
    ("eval_window: {max_seq_len: 32}\n", "eval_window"),
])
def test_bad_profiles_are_rejected_naming_the_key(tmp_path, text, message):
    base = pipeline.profile_path("smoke").read_text()
    p = tmp_path / "bad.yaml"
    p.write_text(base + text)
    with pytest.raises(ConfigError) as err:
        pipeline.load_profile(p)
    assert message in str(err.value) and "bad.yaml" in str(err.value)

def test_unknown_profile_lists_the_known_ones():
    known = ", ".join(sorted(p.stem for p in qprofile.paths.PROFILES.glob("*.yaml")))
    assert known.startswith("full, pocket, pocket-cpu, ")
    with pytest.raises(ConfigError, match=f"known profiles: {known}"):
        pipeline.load_profile("nope")


def test_every_ablation_factor_is_a_distill_config_field_of_the_same_type():
    hints = typing.get_type_hints(DistillConfig)
    fields = {f.name: f for f in dataclasses.fields(pipeline.Ablations)}
    for factor, key in pipeline.ABLATION_FACTORS.items():
        assert key in hints, f"ablation factor {factor}: {key} is not a DistillConfig field"
        assert fields[factor].type == list[hints[key]]
    # the factors, then the keys that are not DistillConfig fields
    assert list(fields) == ["cards", *pipeline.ABLATION_FACTORS, "paired", "paired_cards", "teacher",
                            "seeds_by_value", "decoder", "datasets"]


def test_choices_come_from_where_the_values_are_used():
    assert config.choices(pipeline.Profile, "precision") == config.choices(DistillConfig, "precision")
    assert config.choices(pipeline.Profile, "decoder") == decode.METHODS


@pytest.mark.parametrize("text, message", [
    ("ablations: {loss: [kl]}\n", "ablations.loss: 'kl' does not fit card"),
    ("ablations: {loss: [kl]}\n", "'kl' is not one of ['haystack', 'hf']"),
    ("ablations: {temperature: [0]}\n", "temperature must be > 0"),
    ("ablations: {seed: [1.5]}\n", "ablations: key 'seed'[0]: expected an integer"),
    ("ablations: {decoder: [beam]}\n", "ablations.decoder: 'beam' is not one of ['hf', 'haystack']"),
    ("ablations: {cards: [nope]}\n", "ablations.cards: 'nope' is not in cards"),
])
def test_ablation_values_are_checked_by_the_distillation_config(tmp_path, text, message):
    base = pipeline.profile_path("smoke").read_text()
    p = tmp_path / "bad.yaml"
    p.write_text(base + text)
    with pytest.raises(ConfigError) as err:
        pipeline.load_profile(p)
    assert message in str(err.value) and "bad.yaml" in str(err.value)


def test_every_profile_and_its_ablations_load():
    for path in sorted(qprofile.paths.PROFILES.glob("*.yaml")):
        prof = pipeline.load_profile(path.stem)
        assert prof.source.endswith(path.name) and set(prof.ablation.cards) <= set(prof.cards)


@pytest.mark.parametrize("text, message", [
    ("ablations: {paired: [seed], seed: [1]}\n", "ablations.paired: 'seed' is not a factor that can be paired"),
    ("ablations: {paired: [train_size], seed: [1]}\n", "'train_size' has no values"),
    ("ablations: {paired: [train_size], train_size: [10]}\n", "ablations.paired needs ablations.seed"),
    ("ablations: {train_size: [ten]}\n", "train_size"),
    ("ablations: {cards: [roberta-base-squad2-distilled], paired_cards: [bert-medium-squad2-distilled]}\n",
     "ablations.paired_cards: 'bert-medium-squad2-distilled' is not one of the ablated cards"),
    ("eval_samples: {squad_v3: 10}\n", "'squad_v3' is not a registry key"),
    ("eval_samples: {squad-validation: 0}\n", "eval_samples.squad-validation: expected a positive number"),
])
def test_paired_factors_and_per_dataset_samples_are_checked(tmp_path, text, message):
    p = tmp_path / "bad.yaml"
    p.write_text(pipeline.profile_path("smoke").read_text() + text)
    with pytest.raises(ConfigError) as err:
        pipeline.load_profile(p)
    assert message in str(err.value)


def test_per_dataset_sample_overrides_the_profile_sample(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(pipeline.profile_path("smoke").read_text() + "eval_sample: 7\neval_samples: {squad-validation: 20}\n")
    prof = pipeline.load_profile(p)
    assert prof.sample_of("squad-validation") == 20 and prof.sample_of("squad_v2-validation") == 7


@pytest.mark.parametrize("extra, ablations, message", [
    ("", "{cards: [roberta-base-squad2-distilled], seed: [42], train_size: [40], paired: [train_size], "
         "seeds_by_value: {train_size: {80: [42, 43]}}}", "is not one of its values"),
    ("", "{cards: [roberta-base-squad2-distilled], seed: [42], train_size: [40], paired: [train_size], "
         "seeds_by_value: {train_size: {40: [42, 42]}}}", "distinct integer seeds"),
    ("", "{cards: [roberta-base-squad2-distilled], seed: [42], train_size: [40], "
         "seeds_by_value: {train_size: {40: [42]}}}", "not one of the paired factors"),
    ("", "{cards: [roberta-base-squad2-distilled], seed: [42], teacher: [strong], paired: [teacher]}",
     "neither 'finetuned' nor a name in teacher_variants"),
    ("teacher_variants: {weak: {learning_rat: 1.0}}\n", "{}", "teacher_variants.weak"),
    ("teacher_variants: {weak: {learning_rate: 1.0e-5}}\n",
     "{cards: [roberta-base-squad2-distilled], seed: [42], teacher: [weak], paired: [teacher]}",
     "needs cards whose teacher is fine-tuned"),
])
def test_grid_keys_are_checked_when_the_profile_loads(tmp_path, extra, ablations, message):
    # the full profile's teachers are the cards' own (not fine-tuned here); smoke fine-tunes its tiny ones
    base = "full" if "fine-tuned" in message else "smoke"
    text = pipeline.profile_path(base).read_text() + extra + f"ablations: {ablations}\n"
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        pipeline.load_profile(tmp_path / "bad.yaml")
