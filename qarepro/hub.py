"""The Hugging Face hub as the pipeline sees it: is it there, does a repo id still name what the
config means, which commit a revision resolves to, and what a hub error means in words.

Every hub id the project names is canonical `namespace/name`: today's huggingface_hub refuses
single-segment ids in some code paths, and the hub answers a renamed repo with a redirect, which
would leave provenance naming the old id. `check_repo` turns both into one clear message.
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import Any

# huggingface_hub is imported inside the functions on purpose: it reads HF_ENDPOINT and the
# offline switches once, at import, so a process that only needs this module (the preflight's
# checks) never fixes them early; qarepro.pipeline.runner.go_offline sets the environment and
# the switches of the hub libraries already imported.

# transformers asks a conversion service (another host) to open a safetensors pull request on
# any repo that ships only pytorch_model.bin; a reproduction has no business doing that.
os.environ.setdefault("DISABLE_SAFETENSORS_CONVERSION", "1")

# Xet: the hub answers a large file with a redirect that names its Xet storage, and with hf_xet
# installed huggingface_hub downloads it from the storage hosts (cas-server / transfer.xethub.hf.co)
# by their own protocol, with no fallback to plain HTTP: a network that lets the hub through but
# not those hosts fails every weight file after minutes of retries (about 220 s a file on the
# loopback hub), and that protocol cannot be rehearsed offline. With Xet off the same redirect is
# followed over plain HTTP, the path the CI rehearsal runs (tests/loopback_hub, xet mode). Set
# HF_HUB_DISABLE_XET=0 to use Xet (faster on a fast link); its failures are named by xet_failure.
# qarepro/__init__.py imports this module first, before any hub library reads its environment.
XET_REASON = ("hf_xet has no plain-HTTP fallback and needs the hub's storage hosts; the plain-HTTP path is the "
              "one rehearsed offline (HF_HUB_DISABLE_XET=0 turns Xet back on)")
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")

UNREACHABLE_ERRORS = {"OfflineModeIsEnabled", "ConnectError", "ConnectTimeout", "ReadTimeout", "WriteTimeout",
                      "PoolTimeout", "TimeoutException", "ReadError", "RemoteProtocolError", "NetworkError",
                      "LocalEntryNotFoundError", "ConnectionError"}
UNREACHABLE_WORDS = ("offline", "couldn't reach", "connection refused", "timed out", "couldn't connect",
                     "cannot reach", "connection error")


def chain(err: BaseException) -> list[BaseException]:
    """`err` and the exceptions it was raised from."""
    out, seen = [], set()
    e: BaseException | None = err
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        out.append(e)
        e = e.__cause__ or e.__context__
    return out


def error_names(err: BaseException) -> set[str]:
    return {type(e).__name__ for e in chain(err)}


def unreachable(err: BaseException) -> bool:
    """Did `err` happen because the hub could not be asked (offline mode, no network, a time-out)?"""
    text = " ".join(str(e) for e in chain(err)).lower()
    return bool(error_names(err) & UNREACHABLE_ERRORS) or any(w in text for w in UNREACHABLE_WORDS)


def stalled(err: BaseException) -> bool:
    """Did the hub answer and then stop (a read time-out, a connection cut mid-download)?"""
    return bool(error_names(err) & {"ReadTimeout", "ReadError", "RemoteProtocolError", "TimeoutException"})


def failure(err: BaseException) -> str:
    """What an unreachable-hub error means, in words."""
    if stalled(err):
        return f"the hub stopped answering in the middle of a download ({one_line(err, 120)})"
    return f"the hub could not be reached ({one_line(err, 120)})"


def fix(err: BaseException) -> str:
    """What to do about an unreachable-hub error."""
    if stalled(err):
        return "run again once the hub answers (finished downloads are kept)"
    return "run where the hub is reachable"


INVALID_TOKEN = ("the hub refused the token (401 Invalid credentials): HF_TOKEN (or the login saved by "
                 "`hf auth login`) is invalid or expired; set a valid token, or unset HF_TOKEN (every repo the "
                 "project names is public)")


def status(err: BaseException) -> int | None:
    """The HTTP status the hub answered with, where `err` carries one."""
    for e in chain(err):
        code = getattr(getattr(e, "response", None), "status_code", None)
        if isinstance(code, int):
            return code
    return None


def token_sent() -> bool:
    """Is a token sent with each request (HF_TOKEN, or a saved login)?"""
    with contextlib.suppress(Exception):
        from huggingface_hub import get_token  # deferred: see the note at the top of this module

        return get_token() is not None
    return bool(os.environ.get("HF_TOKEN"))


def invalid_token(err: BaseException) -> bool:
    """Did the hub answer 401 because the token sent is not valid? (A public repo asked for with a
    bad token gets 401; huggingface_hub then calls it "not found" when the hub gives no reason.)"""
    if status(err) != 401:
        return False
    text = " ".join(str(e) for e in chain(err)).lower()
    return "invalid credentials" in text or "invalid user token" in text or token_sent()


XET_FIX = "run with HF_HUB_DISABLE_XET=1 (plain HTTP, the project's default)"


def xet_failure(err: BaseException) -> str | None:
    """What a failed Xet download means, in words with the fix, or None if `err` is not one."""
    text = " ".join(str(e) for e in chain(err))
    low = text.lower()
    if "xet-read-token" in low or "xet read token" in low:
        return (f"the hub refused a Xet read token ({one_line(err, 140)}); {XET_FIX}, or check that the token may "
                f"read the repo")
    if not ("cas client error" in low or "reconstruction" in low or "hf_xet" in low or "xet storage" in low):
        return None
    if re.search(r"status (client|server) error \((\d{3})", low):
        code = re.search(r"status (?:client|server) error \((\d{3}[^)]*)\)", text, re.I)
        return (f"the hub's Xet storage answered {code.group(1) if code else 'an error'} for a download "
                f"({one_line(err, 140)}); run again later, or {XET_FIX}")
    return (f"the hub's Xet storage could not be reached ({one_line(err, 140)}): a network that lets the hub "
            f"through but not its storage hosts (cas-server.xethub.hf.co, transfer.xethub.hf.co)? {XET_FIX[0].upper()}"
            f"{XET_FIX[1:]}, or allow those hosts")


def one_line(err: BaseException, n: int = 300) -> str:
    text = re.sub(r"\s+", " ", f"{type(err).__name__}: {err}").strip()
    return text if len(text) <= n else text[: n - 3] + "..."


def is_canonical(repo_id: str) -> bool:
    return re.fullmatch(r"[\w.-]+/[\w.-]+", repo_id) is not None


def repo_commit(repo_id: str, kind: str = "model", revision: str | None = None) -> str | None:
    """The commit `revision` of the repo resolves to now, or None when the hub cannot be asked."""
    with contextlib.suppress(Exception):  # provenance must never be the thing that fails
        from huggingface_hub import HfApi  # deferred: see the note at the top of this module

        return HfApi().repo_info(repo_id, repo_type=kind, revision=revision).sha
    return None


def check_repo(repo_id: str, kind: str = "model", revision: str | None = None) -> str | None:
    """None if the hub has `repo_id` at `revision` under that very id; else what is wrong and what
    to do. Call it only when the hub is reachable."""
    from huggingface_hub import HfApi  # deferred: see the note at the top of this module

    what = f"{kind} repo {repo_id!r}"
    try:
        info = HfApi().repo_info(repo_id, repo_type=kind, revision=revision)
    except Exception as err:  # noqa: BLE001 - each failure is one message
        names = error_names(err)
        if invalid_token(err):
            return f"{what}: {INVALID_TOKEN}"
        if "RevisionNotFoundError" in names:
            return f"{what} has no revision {revision!r} on the hub: pin an existing branch, tag or commit"
        if "RepositoryNotFoundError" in names or "GatedRepoError" in names:
            return (f"{what} is not on the hub (or is private or gated): check the id, or log in "
                    f"(`hf auth login`) if it needs access")
        if "HfUriError" in names or "HFValidationError" in names or not is_canonical(repo_id):
            return f"{what} is not a namespace/name id, which today's hub libraries need: use the full id"
        return f"{what}: the hub answered {one_line(err, 200)}"
    if info.id != repo_id:
        return f"{what} was renamed on the hub to {info.id!r} (it redirects there): use {info.id!r} instead"
    if not is_canonical(repo_id):
        return f"{what} is not a namespace/name id, which today's hub libraries need: use the full id"
    return None


def source(repo_id: str, kind: str, revision: str | None, **extra: Any) -> dict[str, Any]:
    """Provenance of something taken from the hub: id, revision asked for, commit it resolved to."""
    return {"repo": repo_id, "kind": kind, "revision": revision or "main",
            "commit": repo_commit(repo_id, kind, revision), **extra}
