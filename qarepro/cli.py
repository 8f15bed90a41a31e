"""`qarepro <command> ...`: one command line for the whole project.

Each command is the `main(argv)` of the module that owns it; `qarepro --help` lists them, and
`qarepro distill --help` / `qarepro cache-teacher --help` list every DistillConfig key with its
help text (each can be set as key=value).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from typing import Sequence

from . import config

# name -> (module, function, one line); the module is imported only when its command runs, so
# that `qarepro --help` answers at once and the pipeline commands can set the hub's offline
# switch before the hub libraries are first imported
COMMANDS = {
    "score": ("qarepro.metrics", "main", "score predictions like the official SQuAD 2.0 script"),
    "predict": ("qarepro.predict", "main", "run a QA model over a dataset; write predictions and metrics"),
    "evaluate": ("qarepro.evaluate", "main", "evaluate a model on several datasets"),
    "cache-teacher": ("qarepro.distill", "cache_teacher_main", "compute and cache teacher logits"),
    "distill": ("qarepro.distill", "main", "train a student (distillation or plain fine-tuning)"),
    "run": ("qarepro.pipeline.commands", "run_main", "run one notebook (stage) of a profile"),
    "preflight": ("qarepro.pipeline.commands", "preflight_main", "check what a stage needs, and say how to supply it"),
    "verify": ("qarepro.pipeline.commands", "verify_main", "score the published checkpoints against their claims"),
    "compare": ("qarepro.pipeline.commands", "compare_main", "do two output folders hold the same metric values?"),
    "stages": ("qarepro.pipeline.commands", "stages_main", "list the pipeline's stages"),
    "rerender": ("qarepro.rerender", "main", "re-render a finished run's reports from its records"),
}
CONFIG_COMMANDS = ("distill", "cache-teacher")  # take --config NAME and DistillConfig key=value overrides


def usage() -> str:
    lines = ["usage: qarepro <command> [options]    (qarepro <command> --help for its options)", "", "commands:"]
    lines += [f"  {name:<14} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    return "\n".join(lines)


def distill_config_help() -> str:
    """Every DistillConfig key with its type, default, choices and help text."""
    distill_config = importlib.import_module("qarepro.distill_config")  # deferred like the commands themselves
    return ("config keys (key=value; DistillConfig, configs/<card>.yaml):\n"
            + config.fields_help(distill_config.DistillConfig))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"qarepro: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module, func, _ = COMMANDS[name]
    command = getattr(importlib.import_module(module), func)
    if name in CONFIG_COMMANDS and ("-h" in rest or "--help" in rest):
        with contextlib.suppress(SystemExit):  # argparse exits after printing the options
            command(["--help"])
        print("\n" + distill_config_help())
        return 0
    return int(command(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
