"""A Hugging Face hub on 127.0.0.1, for tests and the CI rehearsal of the hub path.

It answers the requests that the installed `huggingface_hub`, `datasets` and `transformers`
make when they are pointed at it through `HF_ENDPOINT` (offline mode off):

- repo info: `GET /api/{models,datasets}/<id>[/revision/<rev>]`
- listings: `GET /api/<type>s/<id>/tree/<rev>[/<path>]` (`recursive`), and
  `POST /api/<type>s/<id>/paths-info/<rev>`
- files: `HEAD`/`GET /[datasets/]<id>/resolve/<rev>/<path>` with the headers the clients read
  (`X-Repo-Commit`, `ETag`, `X-Linked-Etag`, `X-Linked-Size`, `Content-Length`), byte ranges
- revisions by branch name (`main`, `refs/convert/parquet`, URL-quoted or not) or commit sha
- renamed repos: a 307 redirect to the new id, as the hub does
- errors as the hub sends them: 404 with `X-Error-Code` RepoNotFound / RevisionNotFound /
  EntryNotFound, so the clients raise their own typed errors

Faults for tests: `stall_file` makes a download send its headers and the first half of the
body, then go silent (the connection stays open, bounded by `stall_seconds`); `reject_tokens`
answers every request that carries a token with 401 `Invalid credentials in Authorization
header`, as the hub answers an invalid or expired HF_TOKEN, even for a public repo.

Xet (`xet=True`): large files are answered as the hub answers them today, a 302 whose headers
name the file's Xet storage (`X-Xet-Hash`, `Link: <…/xet-read-token/…>; rel="xet-auth"`, with
`X-Linked-Etag`/`X-Linked-Size`) and whose `Location` is a plain-HTTP bridge (`/xet-bridge/…`),
which a client with Xet turned off (HF_HUB_DISABLE_XET=1) downloads from. The storage itself
(the CAS protocol of hf_xet) is not served: `xet_fault` says how a client that uses it fails —
"cas_error" (the default: the storage host answers 503), "cas_unreachable" (nothing listens
there: a network that lets the hub through but not its storage hosts) or "token_refused" (the
hub refuses the Xet read token, 403).

Every request is recorded (`requests`, `summary()`), so a test or the rehearsal can say what
was asked for. Only 127.0.0.1 is ever bound.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

LFS_SUFFIXES = (".bin", ".safetensors", ".parquet", ".h5", ".msgpack", ".pt")
XET_FAULTS = ("cas_error", "cas_unreachable", "token_refused")
DATE = "2024-01-01T00:00:00.000Z"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # a client that speaks no HTTP/1.1 (hf_xet
        pass                                                    # tries HTTP/2 first) is not the test's business


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    """One repo: its kind, its id, and the files of each revision (branch name -> files)."""

    kind: str  # "model" or "dataset"
    repo_id: str
    revisions: dict[str, dict[str, bytes]]
    evidence: str = ""  # where its real layout is documented
    card_data: dict = field(default_factory=dict)

    def sha(self, rev: str) -> str:
        h = hashlib.sha1(f"{self.kind}/{self.repo_id}@{rev}".encode())
        for path in sorted(self.revisions[rev]):
            h.update(path.encode() + b"\0" + hashlib.sha1(self.revisions[rev][path]).digest())
        return h.hexdigest()

    def branch(self, rev: str) -> str | None:
        """The branch that `rev` (a branch name or a commit sha) names, or None."""
        if rev in self.revisions:
            return rev
        return next((b for b in self.revisions if self.sha(b) == rev), None)


class LoopbackHub:
    """The server. `with LoopbackHub(repos) as hub:` serves on hub.url until the block ends."""

    def __init__(self, repos: list[Repo], *, renamed: dict[str, str] | None = None,
                 stall_file: tuple[str, str] | None = None, stall_seconds: float = 30.0, port: int = 0,
                 reject_tokens: bool = False, xet: bool = False, xet_fault: str = "cas_error"):
        self.repos = {(r.kind, r.repo_id): r for r in repos}
        self.renamed = dict(renamed or {})  # old id -> new id, for either kind
        self.stall_file = stall_file  # (repo_id, path)
        self.stall_seconds = stall_seconds
        self.reject_tokens = reject_tokens
        if xet_fault not in XET_FAULTS:
            raise ValueError(f"xet_fault {xet_fault!r}: one of {', '.join(XET_FAULTS)}")
        self.xet, self.xet_fault = xet, xet_fault
        self._blobs: dict[str, bytes] | None = None  # sha256 -> bytes, for the Xet bridge
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = _Server(("127.0.0.1", port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        # the storage host of Xet mode: another origin (port), as the hub's storage is another host,
        # so that clients treat its redirect as leaving the hub (metadata read from the 302 itself)
        self._storage = _Server(("127.0.0.1", 0), _handler(self)) if xet else None
        if self._storage is not None:
            self._storage.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def storage_url(self) -> str:
        return f"http://127.0.0.1:{self._storage.server_address[1]}" if self._storage else self.url

    def start(self) -> "LoopbackHub":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        if self._storage is not None:
            threading.Thread(target=self._storage.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for server in filter(None, (self._httpd, self._storage)):
            server.shutdown()
            server.server_close()

    def __enter__(self) -> "LoopbackHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def record(self, entry: dict) -> None:
        with self._lock:
            self.requests.append(entry)

    def summary(self) -> dict:
        """Requests served, grouped: per (kind, repo, revision, file, status) a count."""
        with self._lock:
            rows = list(self.requests)
        counts = Counter((r["kind"], r["repo"], r["revision"], r["file"], r["endpoint"], r["status"]) for r in rows)
        grouped = [dict(kind=k, repo=repo, revision=rev, file=f, endpoint=e, status=s, count=n)
                   for (k, repo, rev, f, e, s), n in sorted(counts.items(), key=lambda kv: tuple(map(str, kv[0])))]
        return {"requests": len(rows), "by_file": grouped,
                "repos": sorted({f"{r['kind']}:{r['repo']}" for r in rows if r["repo"]})}

    def find(self, kind: str, repo_id: str) -> Repo | None:
        return self.repos.get((kind, repo_id))

    def blob(self, sha256: str) -> bytes | None:
        with self._lock:
            if self._blobs is None:
                self._blobs = {hashlib.sha256(d).hexdigest(): d for r in self.repos.values()
                               for files in r.revisions.values() for d in files.values()}
        return self._blobs.get(sha256)

    def cas_url(self) -> str:
        """Where the Xet read token says the storage is."""
        if self.xet_fault == "cas_unreachable":
            import socket

            with socket.socket() as sock:  # a port on 127.0.0.1 that nothing listens on
                sock.bind(("127.0.0.1", 0))
                return f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.storage_url + "/xet-cas"


def _entry(path: str, data: bytes) -> dict:
    e = {"type": "file", "oid": git_blob_oid(data), "size": len(data), "path": path}
    if path.endswith(LFS_SUFFIXES):
        e["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
    return e


def _listing(files: dict[str, bytes], base: str, recursive: bool) -> list[dict] | None:
    """Tree entries under `base` ("" for the root), directories first; None if base is absent."""
    base = base.strip("/")
    prefix = base + "/" if base else ""
    if base and base in files:
        return [_entry(base, files[base])]
    inside = {p: d for p, d in files.items() if p.startswith(prefix)}
    if not inside and base:
        return None
    out, dirs = [], set()
    for p in sorted(inside):
        rest = p[len(prefix):]
        parts = rest.split("/")
        for depth in range(1, len(parts)):
            d = prefix + "/".join(parts[:depth])
            if d not in dirs and (recursive or depth == 1):
                dirs.add(d)
                out.append({"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0, "path": d})
        if recursive or len(parts) == 1:
            out.append(_entry(p, inside[p]))
    return sorted(out, key=lambda e: (e["type"] != "directory", e["path"]))


def _handler(hub: LoopbackHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet: requests are recorded instead
            pass

        # ---- plumbing
        def _send(self, status: int, body: bytes = b"", headers: dict | None = None, *, info: dict) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if "Content-Length" not in (headers or {}):
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD" and body:
                self.wfile.write(body)
            hub.record({**info, "method": self.command, "status": status})

        def _json(self, obj, info: dict, status: int = 200) -> None:
            self._send(status, json.dumps(obj).encode(), {"Content-Type": "application/json"}, info=info)

        def _error(self, status: int, code: str, message: str, info: dict) -> None:
            self._send(status, json.dumps({"error": message}).encode(),
                       {"Content-Type": "application/json", "X-Error-Code": code, "X-Error-Message": message},
                       info=info)

        def do_HEAD(self) -> None:
            self._dispatch()

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        # ---- routing
        def _dispatch(self) -> None:
            split = urlsplit(self.path)
            segs = [unquote(s) for s in split.path.split("/") if s]
            query = parse_qs(split.query)
            info = {"path": split.path, "kind": None, "repo": None, "revision": None, "file": None, "endpoint": "?"}
            try:
                if hub.reject_tokens and self.headers.get("Authorization"):
                    if self.command == "POST":
                        self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    info["endpoint"] = "token refused"
                    msg = "Invalid credentials in Authorization header"
                    self._send(401, json.dumps({"error": msg}).encode(),
                               {"Content-Type": "application/json", "X-Error-Message": msg}, info=info)
                elif segs[:1] == ["xet-bridge"] and len(segs) == 2:
                    self._bridge(segs[1], info)
                elif segs[:1] == ["xet-cas"]:  # the storage protocol is not served
                    info["endpoint"] = "xet-cas"
                    self._error(503, "ServiceUnavailable", "Xet storage is not served by the loopback hub", info)
                elif segs[:1] == ["api"] and len(segs) >= 3 and segs[1] in ("models", "datasets"):
                    self._api(segs[1][:-1], segs[2:], query, info)
                elif segs[:1] == ["api"]:  # other hub APIs (e.g. huggingface_hub's agent-harnesses registry)
                    info["endpoint"] = "api/" + "/".join(segs[1:2])
                    self._error(404, "NotFound", "not served by the loopback hub", info)
                elif segs[:1] == ["datasets"]:
                    self._resolve("dataset", segs[1:], info)
                elif segs:
                    self._resolve("model", segs, info)
                else:
                    self._error(404, "NotFound", "nothing here", info)
            except (BrokenPipeError, ConnectionResetError):
                hub.record({**info, "method": self.command, "status": "client went away"})

        def _bridge(self, sha256: str, info: dict) -> None:
            """The plain-HTTP download of a Xet file (what the hub's redirect points a non-Xet client to)."""
            info.update(endpoint="xet-bridge", file=sha256[:12])
            data = hub.blob(sha256)
            if data is None:
                self._error(404, "EntryNotFound", "no such blob", info)
                return
            self._send(200, data, {"Content-Type": "application/octet-stream", "Content-Length": str(len(data)),
                                   "Accept-Ranges": "bytes"}, info=info)

        def _xet_token(self, kind: str, repo: Repo, rest: list[str], info: dict) -> None:
            info["endpoint"] = "xet-read-token"
            if hub.xet_fault == "token_refused":
                self._error(403, "Forbidden", "Xet read token refused", info)
                return
            self._send(200, b"{}", {"Content-Type": "application/json", "X-Xet-Cas-Url": hub.cas_url(),
                                    "X-Xet-Access-Token": "loopback", "X-Xet-Token-Expiration": str(int(time.time()) + 3600)},
                       info=info)

        def _split_repo(self, kind: str, segs: list[str]) -> tuple[str, list[str]]:
            """(repo id, the rest): two segments when they name a repo (or a renamed one), else one."""
            if len(segs) >= 2:
                two = f"{segs[0]}/{segs[1]}"
                if hub.find(kind, two) or two in hub.renamed or len(segs) == 2 or segs[2] in (
                        "revision", "tree", "paths-info", "resolve", "refs", "commits"):
                    return two, segs[2:]
            return segs[0], segs[1:]

        def _redirect(self, old: str, new: str, info: dict) -> None:
            raw = urlsplit(self.path)
            location = raw.path.replace(quote(old, safe="/"), quote(new, safe="/"), 1)
            if raw.query:
                location += "?" + raw.query
            self._send(307, b"", {"Location": location}, info={**info, "endpoint": "redirect"})

        def _repo(self, kind: str, repo_id: str, info: dict) -> Repo | None:
            info.update(kind=kind, repo=repo_id)
            if repo_id in hub.renamed:
                self._redirect(repo_id, hub.renamed[repo_id], info)
                return None
            repo = hub.find(kind, repo_id)
            if repo is None:
                self._error(404, "RepoNotFound", "Repository not found", info)
            return repo

        def _branch(self, repo: Repo, rev: str, info: dict) -> str | None:
            info["revision"] = rev
            branch = repo.branch(rev)
            if branch is None:
                self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}", info)
            return branch

        def _body_paths(self) -> list[str]:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n).decode() if n else ""
            if "json" in (self.headers.get("Content-Type") or ""):
                return list(json.loads(raw or "{}").get("paths", []))
            return [p for v in parse_qs(raw).get("paths", []) for p in (v if isinstance(v, list) else [v])]

        def _api(self, kind: str, segs: list[str], query: dict, info: dict) -> None:
            repo_id, rest = self._split_repo(kind, segs)
            if self.command == "POST" and rest[:1] == ["paths-info"]:
                paths = self._body_paths()  # read the body before any answer, to keep the connection sane
            repo = self._repo(kind, repo_id, info)
            if repo is None:
                return
            if not rest or rest[0] == "revision":
                info["endpoint"] = "info"
                branch = self._branch(repo, unquote("/".join(rest[1:])) if rest else "main", info)
                if branch is None:
                    return
                files = repo.revisions[branch]
                body = {"_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24], "id": repo.repo_id,
                        "sha": repo.sha(branch), "private": False, "gated": False, "disabled": False,
                        "lastModified": DATE, "createdAt": DATE, "downloads": 0, "likes": 0, "tags": [],
                        "cardData": repo.card_data, "siblings": [{"rfilename": p} for p in sorted(files)]}
                if kind == "model":
                    body.update(modelId=repo.repo_id, library_name="transformers", pipeline_tag="question-answering")
                self._json(body, info)
            elif rest[0] == "tree":
                info["endpoint"] = "tree"
                branch = self._branch(repo, rest[1] if len(rest) > 1 else "main", info)
                if branch is None:
                    return
                base = "/".join(rest[2:])
                info["file"] = base or "."
                entries = _listing(repo.revisions[branch], base, query.get("recursive", ["false"])[0].lower() == "true")
                if entries is None:
                    self._error(404, "EntryNotFound", f"{base} does not exist on {branch}", info)
                else:
                    self._json(entries, info)
            elif rest[0] == "paths-info":
                info["endpoint"] = "paths-info"
                branch = self._branch(repo, rest[1] if len(rest) > 1 else "main", info)
                if branch is None:
                    return
                info["file"] = ",".join(paths)
                out = []
                for p in paths:
                    entries = _listing(repo.revisions[branch], p, False)
                    if entries is None:
                        continue
                    out.append(entries[0] if p in repo.revisions[branch] else
                               {"type": "directory", "oid": hashlib.sha1(p.encode()).hexdigest(), "size": 0,
                                "path": p.strip("/")})
                self._json(out, info)
            elif rest[0] == "xet-read-token":
                self._xet_token(kind, repo, rest, info)
            elif rest[0] == "refs":
                info["endpoint"] = "refs"
                branches = [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": repo.sha(b)}
                            for b in repo.revisions if not b.startswith("refs/")]
                converts = [{"name": b.split("/")[-1], "ref": b, "targetCommit": repo.sha(b)}
                            for b in repo.revisions if b.startswith("refs/convert/")]
                self._json({"branches": branches, "converts": converts, "tags": []}, info)
            else:
                info["endpoint"] = "/".join(rest[:1])
                self._error(404, "NotFound", f"unsupported endpoint {rest[0]}", info)

        def _resolve(self, kind: str, segs: list[str], info: dict) -> None:
            info["endpoint"] = "resolve"
            repo_id, rest = self._split_repo(kind, segs)
            if rest[:1] != ["resolve"] or len(rest) < 3:
                info.update(kind=kind, repo=repo_id)
                self._error(404, "NotFound", "not a resolve url", info)
                return
            repo = self._repo(kind, repo_id, info)
            if repo is None:
                return
            # a revision with slashes arrives quoted (refs%2Fconvert%2Fparquet): one segment
            branch = self._branch(repo, rest[1], info)
            if branch is None:
                return
            path = "/".join(rest[2:])
            info["file"] = path
            files = repo.revisions[branch]
            if path not in files:
                self._error(404, "EntryNotFound", f"{path} does not exist on {branch}", info)
                return
            data = files[path]
            headers = {"X-Repo-Commit": repo.sha(branch), "ETag": f'"{git_blob_oid(data)}"',
                       "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
            if path.endswith(LFS_SUFFIXES):
                headers["X-Linked-Etag"] = f'"{hashlib.sha256(data).hexdigest()}"'
                headers["X-Linked-Size"] = str(len(data))
            status, body = 200, data
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
            if m:
                start = int(m.group(1))
                end = min(int(m.group(2)) if m.group(2) else len(data) - 1, len(data) - 1)
                status, body = 206, data[start:end + 1]
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            headers["Content-Length"] = str(len(body))
            if hub.xet and path.endswith(LFS_SUFFIXES):  # the hub today: a redirect naming the Xet storage
                sha = hashlib.sha256(data).hexdigest()
                api = f"{hub.url}/api/{kind}s/{repo.repo_id}/xet-read-token/{repo.sha(branch)}"
                self._send(302, b"", {"X-Repo-Commit": repo.sha(branch), "ETag": f'"{sha}"',
                                      "X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(len(data)),
                                      "X-Xet-Hash": hashlib.sha256(b"xet" + data).hexdigest(),
                                      "Link": f'<{api}>; rel="xet-auth"',
                                      "Location": f"{hub.storage_url}/xet-bridge/{sha}", "Content-Length": "0"},
                           info={**info, "endpoint": "resolve (xet)"})
                return
            if self.command == "GET" and hub.stall_file == (repo.repo_id, path):
                self._stall(status, body, headers, info)
                return
            self._send(status, body, headers, info=info)

        def _stall(self, status: int, body: bytes, headers: dict, info: dict) -> None:
            """Headers and half the body, then silence until the client gives up or time is up."""
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            hub.record({**info, "endpoint": "resolve (stalled)", "method": self.command, "status": status})
            deadline = time.monotonic() + hub.stall_seconds
            while time.monotonic() < deadline and not hub._stop.is_set():
                time.sleep(0.05)
            self.close_connection = True

    return Handler
