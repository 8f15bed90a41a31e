"""Where a result came from: code version, packages, device, plus the run's own facts."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import subprocess
from typing import Any

from . import paths

PACKAGES = ("qarepro", "torch", "transformers", "tokenizers", "datasets", "accelerate", "numpy", "pandas")


def git_commit() -> dict[str, Any]:
    """Commit of the checkout and whether tracked files differ from it."""
    def run(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=paths.ROOT, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def device_info() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "processor": platform.machine(),
                            "cpu_count": os.cpu_count()}
    try:
        import torch  # deferred: seconds to import; a record of a torch-free stage need not load it

        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.is_available()
        if info["cuda"]:
            info["gpu"] = torch.cuda.get_device_name(0)
            info["gpu_count"] = torch.cuda.device_count()
    except ImportError:  # provenance must never be the thing that fails
        info["cuda"] = None
    return info


def collect(**fields: Any) -> dict[str, Any]:
    """Provenance block for a metrics JSON; `fields` (config, profile, seeds, datasets, timings,
    ...) are added as given. Timestamps and timings are the only parts expected to differ
    between two runs of the same inputs."""
    return {
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git": git_commit(),
        "packages": package_versions(),
        "device": device_info(),
        **fields,
    }


VOLATILE_KEYS = ("created_utc", "timings", "git", "device", "packages", "speed")


def strip_volatile(obj: Any) -> Any:
    """Copy of a metrics JSON without provenance and timing parts, for run-to-run comparison."""
    if isinstance(obj, dict):
        return {k: strip_volatile(v) for k, v in obj.items() if k not in VOLATILE_KEYS and k != "provenance"}
    if isinstance(obj, list):
        return [strip_volatile(v) for v in obj]
    return obj
