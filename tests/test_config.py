from dataclasses import dataclass

import pytest

from qarepro import config
from qarepro.config import ConfigError


@dataclass
class Demo:
    name: str
    lr: float = config.field(3e-5)
    layers: list[int] = config.field([0, 2])
    mode: str = config.field("haystack", choices=["haystack", "hf"])
    teacher: str | None = None
    flag: bool = False


def test_loads_and_converts(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("name: x\nlr: 1\nlayers: [1, 3]\n")
    cfg = config.load(Demo, p)
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float) and cfg.layers == [1, 3] and cfg.teacher is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("name: x\nlrr: 1\n", "unknown key(s) 'lrr'"),
        ("lr: 1\n", "key 'name' is required"),
        ("name: x\nlr: fast\n", "key 'lr': expected a number"),
        ("name: x\nlayers: 3\n", "key 'layers': expected a list"),
        ("name: x\nmode: other\n", "key 'mode': 'other' is not one of"),
        ("name: x\nflag: 1\n", "key 'flag': expected true/false"),
        ("- a\n- b\n", "expected a mapping"),
    ],
)
def test_rejects_bad_files_naming_file_and_key(tmp_path, text, message):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        config.load(Demo, p)
    assert message in str(err.value) and "bad.yaml" in str(err.value)


def test_overrides_use_the_same_validation(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("name: x\n")
    assert config.load(Demo, p, ["lr=0.5", "layers=[4]", "teacher=t"]).layers == [4]
    assert config.load(Demo, p, {"mode": "hf"}).mode == "hf"
    with pytest.raises(ConfigError, match="unknown key"):
        config.load(Demo, p, ["nope=1"])
    with pytest.raises(ConfigError, match="'lr': expected a number"):
        config.load(Demo, p, ["lr=abc"])
    with pytest.raises(ConfigError, match="expected key=value"):
        config.load(Demo, p, ["lr"])


# ---- fuzz: random keys, types and values; every failure is a one-line ConfigError ----------

def _random_value(rng, depth: int = 0):
    """A value of a random YAML type, with the edge cases that broke the loader before."""
    kinds = ["int", "float", "str", "bool", "none", "special", "bigint"] + (["list", "dict"] if depth < 2 else [])
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.choice([0, 1, -1, 2, 8, 64, 128, 384, 10 ** 6, rng.randint(-1000, 1000)])
    if kind == "float":
        return rng.choice([0.0, -0.0, 0.5, 1.0, -1.0, 1e-6, 3e-5, 1e300, rng.uniform(-10, 10)])
    if kind == "special":
        return rng.choice([float("nan"), float("inf"), -float("inf")])
    if kind == "bigint":
        return int("9" * rng.choice([20, 309, 401]))
    if kind == "str":
        return rng.choice(["", "hf", "haystack", "fp32", "x", "../../x", "a/b", "..", "null", "1e-3", "[1,", "{a: "])
    if kind == "bool":
        return rng.choice([True, False])
    if kind == "none":
        return None
    if kind == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(["a", "b", "lr"]): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 2))}


def _random_overrides(rng, keys: list[str]) -> dict:
    chosen = rng.sample(keys, rng.randint(1, 4)) + (["no_such_key"] if rng.random() < 0.1 else [])
    return {key: _random_value(rng) for key in chosen}


def _assert_one_line_config_error(call) -> None:
    try:
        call()
    except ConfigError as err:
        assert str(err) and "\n" not in str(err), repr(err)


def test_fuzz_the_distill_config_loader():
    import dataclasses, random  # noqa: E401  (only the fuzz tests need them)

    from qarepro.distill_config import DistillConfig, load_distill_config

    rng = random.Random(20261203)
    keys = [f.name for f in dataclasses.fields(DistillConfig)]
    for _ in range(300):
        overrides = _random_overrides(rng, keys)
        as_text = [f"{k}={v}" if rng.random() < 0.5 else f"{k}={v!r}" for k, v in overrides.items()]
        _assert_one_line_config_error(lambda: load_distill_config("roberta-base-squad2-distilled", overrides))
        _assert_one_line_config_error(lambda: load_distill_config("bert-medium-squad2-distilled", as_text))


def test_fuzz_the_profile_loader():
    import dataclasses, random  # noqa: E401  (only the fuzz tests need them)

    from qarepro import pipeline

    rng = random.Random(7)
    keys = [f.name for f in dataclasses.fields(pipeline.Profile) if f.name != "source"]
    for _ in range(100):
        _assert_one_line_config_error(lambda: pipeline.load_profile("smoke", _random_overrides(rng, keys)))
