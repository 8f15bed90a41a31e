"""The pipeline's commands: run, preflight, verify, compare, stages.

    qarepro run 01_data_prep --profile smoke        # one notebook
    qarepro run 03_distill --profile smoke          # once per card, then an index
    qarepro preflight --profile full                # what is missing, and how to supply it
    qarepro preflight --profile full --download     # before the GPU: fetch and load everything, a table
    qarepro verify --profile full                   # published checkpoints vs their claims
    qarepro compare OUTPUTS_A OUTPUTS_B --profile smoke   # the same records, value for value?
    qarepro compare A B --profile pocket-cpu --shared-only --out F.json   # what both hold
    qarepro stages                                  # the six stages, in order

`qarepro <command>` (qarepro.cli) calls `<command>_main`; `python -m qarepro.pipeline <command>`
takes the same commands.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Callable, Sequence

from .. import io as qio
from .. import paths
from ..config import ConfigError
from .layout import PipelineError
from .profile import load_profile
from .rerun import LEFT_OUT, diff_lines, rerun_record
from .runner import ensure_kernel, go_offline, hub_reachable, require_preflight, run_stage
from .stage import STAGES
from .verify import verify


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _profile_or_none(name: str):
    """The profile for a command that may reach the hub: offline switch first, SIGTERM as Ctrl-C."""
    if not hub_reachable():
        go_offline()  # no hub: the libraries fail at once instead of retrying for minutes
    # `kill` (SIGTERM) unwinds like Ctrl-C, so a stage's partial outputs are cleaned up
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return load_profile(name)
    except ConfigError as err:
        print(f"qarepro: {err}", file=sys.stderr)
        return None


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("stage", choices=STAGES)
    p.add_argument("--profile", default="full")
    p.add_argument("--card", default=None)
    p.add_argument("--force", action="store_true", help="03_distill: rerun cards that are already done")


def _run(args: argparse.Namespace) -> int:
    profile = _profile_or_none(args.profile)
    if profile is None:
        return 2
    try:
        require_preflight(profile, args.stage)
        ensure_kernel()
        run_stage(args.stage, profile, args.card, force=args.force)
        return 0
    except (PipelineError, ConfigError) as err:
        print(f"qarepro: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # read-only or full outputs, a file where a folder should be
        print(f"qarepro: {args.stage}: cannot write its outputs: {qio.os_error_text(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qarepro: interrupted; the stage left no target and will run again", file=sys.stderr)
        return 130


def _preflight_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="full")
    p.add_argument("--stage", default="01_data_prep", choices=[*STAGES, "verify"])
    p.add_argument("--download", action="store_true",
                   help="every stage: download every dataset and model into the caches, read every dataset's rows "
                        "through the strict loader, load every model with its tokenizer; print what is ready, "
                        "missing or not run, with the download size (run it on a CPU machine before a GPU one)")
    p.add_argument("--out", default=None, help="with --download: also write the table as JSON")


def _preflight(args: argparse.Namespace) -> int:
    profile = _profile_or_none(args.profile)
    if profile is None:
        return 2
    if args.download:
        from .ready import fetch_all, table  # deferred: loads transformers

        try:
            record = fetch_all(profile)
        except (PipelineError, ConfigError) as err:
            print(f"qarepro: {err}", file=sys.stderr)
            return 2
        print(table(record))
        if args.out:
            qio.write_json(args.out, paths.portable(record))
        return 2 if record["counts"]["missing"] else 0
    require_preflight(profile, args.stage)
    print(f"preflight {args.stage} for profile {profile.name}: ok")
    return 0


def _verify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="full")


def _verify(args: argparse.Namespace) -> int:
    profile = _profile_or_none(args.profile)
    if profile is None:
        return 2
    try:
        require_preflight(profile, "verify")
        return verify(profile)
    except (PipelineError, ConfigError) as err:
        print(f"qarepro: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("qarepro: interrupted", file=sys.stderr)
        return 130


def _compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--profile", default="smoke")
    p.add_argument("--shared-only", action="store_true",
                   help="only what both folders hold, without the whole-grid tables (two runs of different grids)")
    p.add_argument("--out", default=None, help="also write the comparison as JSON")


def _compare(args: argparse.Namespace) -> int:
    try:
        record = rerun_record(args.a, args.b, args.profile, shared_only=args.shared_only)
    except (PipelineError, ValueError) as err:  # ValueError: a record that is not valid JSON
        print(f"qarepro compare: error: {err}", file=sys.stderr)
        return 2
    diffs = diff_lines(record)
    if args.out:
        qio.write_json(args.out, paths.portable(record))
        print(f"{record['identical']} of {record['compared']} metrics files identical -> {args.out}")
    print("\n".join(diffs) if diffs else f"same values in {args.a} and {args.b} ({record['compared']} records)")
    print(f"left out of the comparison: {', '.join(LEFT_OUT)} (provenance and timings)")
    return 1 if diffs else 0


def _stages(args: argparse.Namespace) -> int:
    print("\n".join(STAGES))
    return 0


# name -> (help, arguments, action)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {
    "run": ("run one notebook (stage) of a profile", _run_args, _run),
    "preflight": ("check what a stage needs", _preflight_args, _preflight),
    "verify": ("published checkpoints against their claims", _verify_args, _verify),
    "compare": ("do two output folders hold the same metric values?", _compare_args, _compare),
    "stages": ("list the stages", lambda p: None, _stages),
}


def command(name: str, argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Parse `argv` for command `name` and run it."""
    help_, add_args, action = COMMANDS[name]
    p = argparse.ArgumentParser(prog=prog or f"qarepro {name}", description=help_)
    add_args(p)
    return action(p.parse_args(argv))


def run_main(argv: Sequence[str] | None = None) -> int:
    return command("run", argv)


def preflight_main(argv: Sequence[str] | None = None) -> int:
    return command("preflight", argv)


def verify_main(argv: Sequence[str] | None = None) -> int:
    return command("verify", argv)


def compare_main(argv: Sequence[str] | None = None) -> int:
    return command("compare", argv)


def stages_main(argv: Sequence[str] | None = None) -> int:
    return command("stages", argv)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m qarepro.pipeline <command> ...`: the same commands under one parser."""
    p = argparse.ArgumentParser(prog="python -m qarepro.pipeline", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, (help_, add_args, action) in COMMANDS.items():
        add_args(sub.add_parser(name, help=help_))
    args = p.parse_args(argv)
    return COMMANDS[args.cmd][2](args)
