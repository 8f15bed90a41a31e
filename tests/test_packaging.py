"""The environment files agree with each other and with the package."""

import tomllib

import yaml

from qarepro import config, paths, provenance


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["test"])
    env = yaml.safe_load((paths.ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert set(pip_section) == wanted
    assert "python=3.11" in env["dependencies"]


def test_torch_is_pinned_to_the_cpu_wheel_on_disk():
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]
    assert "torch==2.13.0" in project["dependencies"]


def test_paths_follow_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.OUTPUTS_ENV, str(tmp_path / "o"))
    assert paths.runs() == (tmp_path / "o" / "runs").resolve()
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "d"))
    assert paths.data_dir() == (tmp_path / "d").resolve()
    assert paths.data_dir(tmp_path / "x") == (tmp_path / "x").resolve()


def test_provenance_has_code_versions_and_device():
    prov = provenance.collect(profile="smoke", seeds={"train": 42})
    assert prov["profile"] == "smoke" and prov["seeds"] == {"train": 42}
    assert prov["packages"]["torch"] and prov["packages"]["python"]
    assert "cpu_count" in prov["device"] and "commit" in prov["git"]
    stripped = provenance.strip_volatile({"metrics": {"f1": 1.0}, "provenance": prov, "speed": {"x": 1}})
    assert stripped == {"metrics": {"f1": 1.0}}


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    from qarepro.io import atomic_path, write_json

    target = tmp_path / "m.json"
    try:
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    except RuntimeError:
        pass
    assert not target.exists() and list(tmp_path.iterdir()) == []
    write_json(target, {"a": 1})
    assert target.read_text().strip().startswith("{")


def test_cli_lists_commands(capsys):
    from qarepro import cli

    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in cli.COMMANDS)
    assert cli.main(["nope"]) == 2
