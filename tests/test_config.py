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
