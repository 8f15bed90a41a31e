"""Serve the loopback hub until SIGTERM/SIGINT, then write what it served.

    python -m tests.loopback_hub --cache DIR --url-file URL.txt --record REQUESTS.json [--xet]

Prints nothing but its URL; the URL is also written to --url-file once the server answers.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from . import repos as hub_repos
from .server import LoopbackHub


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m tests.loopback_hub", description=__doc__.splitlines()[0])
    p.add_argument("--cache", required=True, help="folder for the built repos (reused when up to date)")
    p.add_argument("--url-file", required=True, help="written with the server's URL once it answers")
    p.add_argument("--record", required=True, help="written with the requests served, on exit")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--xet", action="store_true", help="answer large files as the hub does: a redirect naming Xet storage")
    args = p.parse_args()

    import datasets

    datasets.disable_progress_bars()
    hub = LoopbackHub(hub_repos.build(args.cache), renamed=hub_repos.RENAMED, port=args.port,
                      xet=args.xet).start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    Path(args.url_file).write_text(hub.url + "\n")
    print(hub.url, flush=True)
    done.wait()
    hub.stop()
    record = {"xet": args.xet, "served": hub.summary(), "repos": {f"{r.kind}:{r.repo_id}": {"evidence": r.evidence,
              "revisions": {rev: sorted(files) for rev, files in r.revisions.items()}} for r in hub.repos.values()}}
    Path(args.record).write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
