"""`qarepro <command> ...`: dispatches to the `main(argv)` of the stage module that owns it."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "score": ("qarepro.metrics", "main", "score predictions like the official SQuAD 2.0 script"),
    "predict": ("qarepro.predict", "main", "run a QA model over a dataset; write predictions and metrics"),
    "cache-teacher": ("qarepro.distill", "cache_teacher_main", "compute and cache teacher logits"),
    "distill": ("qarepro.distill", "main", "train a student (distillation or plain fine-tuning)"),
    "evaluate": ("qarepro.evaluate", "main", "evaluate a model on several datasets"),
}


def usage() -> str:
    lines = ["usage: qarepro <command> [options]", "", "commands:"]
    lines += [f"  {name:<14} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"qarepro: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module, func, _ = COMMANDS[name]
    return int(getattr(importlib.import_module(module), func)(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
