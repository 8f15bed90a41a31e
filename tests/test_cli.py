"""qarepro.cli: one command line for every command, DistillConfig's keys in distill --help."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from qarepro import cli, paths
from qarepro.distill import DistillConfig
from qarepro.pipeline import STAGES

ISSUE_COMMANDS = ["score", "predict", "evaluate", "cache-teacher", "distill", "run", "preflight", "verify",
                  "compare", "stages"]


def _qarepro(*args: str, module: str = "qarepro") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=paths.ROOT,
                          timeout=120)


def test_help_lists_every_command():
    out = _qarepro("--help")
    assert out.returncode == 0, out.stderr
    listed = [line.split()[0] for line in out.stdout.split("commands:")[1].strip().splitlines()]
    assert listed == list(cli.COMMANDS) and set(ISSUE_COMMANDS) <= set(listed)


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_every_command_answers_help(name, capsys):
    try:
        code = cli.main([name, "--help"])
    except SystemExit as exit_:  # argparse exits after printing the help
        code = exit_.code
    assert code == 0 and f"qarepro {name}" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["distill", "cache-teacher"])
def test_distill_help_shows_every_config_field_with_its_help(command):
    out = _qarepro(command, "--help")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("config keys")[1].splitlines()
    for f in dataclasses.fields(DistillConfig):
        (line,) = [ln for ln in lines if ln.strip().startswith(f"{f.name} (")]
        assert f.metadata.get("help", "") in line
        if f.metadata.get("choices"):
            assert str(list(f.metadata["choices"])) in line


def test_pipeline_commands_answer_through_both_entry_points():
    for module in ("qarepro", "qarepro.pipeline"):
        out = _qarepro("stages", module=module)
        assert out.returncode == 0 and out.stdout.split() == list(STAGES), out.stderr


def test_an_unknown_command_is_refused_with_the_list(capsys):
    assert cli.main(["train"]) == 2
    assert "unknown command 'train'" in capsys.readouterr().err
