#!/usr/bin/env python3
"""Rewrite results written before records were portable: every absolute folder of a machine in
the given JSON, Markdown and HTML files becomes what the pipeline now writes (`qarepro.paths`):
the outputs root -> "outputs/…", the project root -> paths relative to it, the data folder ->
"$QAREPRO_DATA_DIR/…", the temp folder -> "<tmp>/…", the home folder -> "~/…".

    python scripts/portable_outputs.py [--root OLD_CHECKOUT] [--map FOLDER=TOKEN ...] FILE_OR_DIR ...

--root names the checkout a run was made in (its outputs/ and the checkout itself), when it is
not this one. The files are rewritten as text, so their formatting is kept; only the folder
prefixes change. Prints each file it changed; exit status 1 if a file still holds an absolute
path of a home or temp folder or of one of the named folders afterwards.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qarepro import paths  # noqa: E402
from qarepro.io import atomic_path  # noqa: E402

SUFFIXES = (".json", ".md", ".html")


def files(targets):
    for t in map(Path, targets):
        if t.is_dir():
            yield from sorted(p for p in t.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
        elif t.is_file():
            yield t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="+")
    ap.add_argument("--root", action="append", default=[], help="another checkout the results were made in")
    ap.add_argument("--map", action="append", default=[], metavar="FOLDER=TOKEN", help="one more folder and its token")
    args = ap.parse_args(argv)
    extra: dict[str, str] = {}
    for r in args.root:
        extra[str(Path(r) / "outputs")] = paths.OUTPUTS_TOKEN
        extra[str(Path(r))] = ""
    for m in args.map:
        folder, _, token = m.partition("=")
        extra[folder] = token
    prefixes = paths.machine_prefixes(extra)
    changed = left = 0
    for f in files(args.targets):
        text = f.read_text(encoding="utf-8")
        rewrite = paths.portable_html if f.suffix == ".html" else paths.portable_text
        new = rewrite(text, prefixes)
        if new != text:
            with atomic_path(f) as tmp:
                tmp.write_text(new, encoding="utf-8")
            changed += 1
            print(f"rewrote {f}")
        still = [p for p, _ in prefixes if p in new]
        if still:
            left += 1
            print(f"still holds {', '.join(still)}: {f}", file=sys.stderr)
    print(f"{changed} file(s) rewritten")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
