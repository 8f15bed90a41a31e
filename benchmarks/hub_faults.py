"""How long each hub fault takes to end, and what it says: outputs/bench/hub_faults.json.

Each fault of tests/loopback_hub/faults.py is staged on a loopback hub and run through the command
line as a user would meet it (the same runs tests/test_hub.py checks), then run again with the
fault fixed. Time-outs are the test setting (HF_HUB_DOWNLOAD_TIMEOUT=1, HF_HUB_ETAG_TIMEOUT=1);
with huggingface_hub's defaults (10 s) a stalled download is retried for about a minute.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qarepro import io as qio  # noqa: E402
from qarepro import paths, provenance  # noqa: E402
from tests.loopback_hub import faults  # noqa: E402
from tests.loopback_hub import repos as hub_repos  # noqa: E402


def main() -> None:
    out = {"what": __doc__.splitlines()[0], "timeouts_s": {"HF_HUB_DOWNLOAD_TIMEOUT": 1, "HF_HUB_ETAG_TIMEOUT": 1},
           "faults": {}}
    with tempfile.TemporaryDirectory() as tmp:
        served = hub_repos.build(Path(tmp) / "repos")
        for name, (what, command, _) in faults.FAULTS.items():
            work = Path(tmp) / name
            broken = faults.run(name, served, work)
            fixed = faults.run(name, served, work, faulty=False)
            bullet = "  (not run) " if name in faults.GOES_ON else "  - "  # the fault's own lines
            message = [ln[len(bullet):] for ln in broken.stderr.splitlines() if ln.startswith(bullet)]
            out["faults"][name] = {
                "staged": what, "goes_on": name in faults.GOES_ON, "command": "python -m qarepro.pipeline " + " ".join(command) + " --profile rehearsal",
                "exit_status": broken.returncode, "seconds": round(broken.seconds, 1), "message": message,
                "traceback_printed": "Traceback" in broken.stderr, "target_left": broken.target_left,
                "half_written": broken.half_written,
                "after_fix": {"exit_status": fixed.returncode, "seconds": round(fixed.seconds, 1),
                              "target_written": fixed.target_left},
            }
            print(f"{name}: exit {broken.returncode} in {broken.seconds:.1f} s; after the fix exit {fixed.returncode}")
    out["provenance"] = provenance.collect()
    qio.write_json(paths.ROOT / "outputs" / "bench" / "hub_faults.json", out)


if __name__ == "__main__":
    main()
