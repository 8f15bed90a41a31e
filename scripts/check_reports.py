#!/usr/bin/env python3
"""Render every report of a profile in headless Chromium, screenshot it, and check it as a reader
would see it.

    python scripts/check_reports.py pocket-cpu [--reports DIR] [--shots docs/img] [--only 05_ablations 06_report]

For each `outputs/reports/<profile>/NN_*.html` (the reports, code hidden; `--full` adds the
`.full.html` notebooks) the page is opened in the browser and fails if
  - a table cell holds a Python repr (a dict, list, tuple, array or object repr),
  - a table cell holds an unrounded number (six or more decimals: pandas' default display),
  - a table is truncated (a "…" / "..." cell, or pandas' "N rows × M columns" footer),
  - an image did not load (no pixels), or a figure was printed as "<Figure size …>" instead,
  - the page shows an absolute path of this machine (the checkout, a home or temp folder),
  - a table cell reads "None" or "nan" (a missing value shown as Python writes it),
  - a table holds the same row twice (equal in every cell but the card naming it),
  - a figure is empty or a placeholder (almost no ink: e.g. a blank panel saying "no runs"),
  - a table cell is cut (its text ends in "…" or "...": pandas' column width),
  - a table shows pandas' row numbers (its index),
  - two reports of the run give one claim different verdicts (the same card, claim, metric and
    model: "outside" in one, "not comparable" in another).
A full-page screenshot of each page goes to `--shots` as `<profile>-<name>.png` (only with
--shots). Exit status 1 if any page fails.

Needs Debian's `chromium` (`apt-get install -y chromium`) or any Chromium/Chrome named by
$CHROMIUM. The browser is driven over the DevTools protocol on a pipe (no network port, no
extra Python package).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")

# Runs in the page; returns {problem kind: [examples]}.
CHECK_JS = r"""
(() => {
  const VERDICTS = VERDICT_WORDS;
  const NAMING = ['card', 'cards'];   // a row repeated once per card
  const MIN_INK = 0.012;
  function headers(table) {
    const rows = table.querySelectorAll('thead tr');
    const last = rows.length ? rows[rows.length - 1] : null;
    return last ? [...last.children].map(c => c.innerText.trim()) : [];
  }
  function headerOf(cell) {
    const table = cell.closest('table');
    const i = [...cell.parentElement.children].indexOf(cell);
    return table ? JSON.stringify(headers(table)[i] || '?') : '?';
  }
  function verdictOf(text) {
    for (const v of VERDICTS) if (text === v || text.endsWith(' ' + v) || text.endsWith(': ' + v)) return v;
    return null;
  }
  // {key: card|claim|metric|model, verdict} for each verdict a claims table gives (wide or long form)
  function verdictsOf(heads, cells) {
    const at = name => heads.indexOf(name);
    const [ci, li, mi] = [at('card'), at('claim'), at('metric')];
    if (ci < 0 || li < 0 || mi < 0) return [];
    const base = [cells[ci], cells[li], cells[mi]].join('|');
    const found = [];
    if (at('verdict') >= 0 && at('model') >= 0) {
      const v = verdictOf(cells[at('verdict')]);
      if (v) found.push({key: base + '|' + cells[at('model')], verdict: v});
      return found;
    }
    heads.forEach((h, i) => {
      if (['card', 'claim', 'metric', 'dataset', 'claimed', 'source', 'verdict'].includes(h)) return;
      const v = verdictOf(cells[i] || '');
      if (v) found.push({key: base + '|' + h, verdict: v});
    });
    return found;
  }
  // share of pixels that differ from the figure's background (its corner pixel)
  function inkOf(img) {
    if (!img.complete || !img.naturalWidth) return null;
    const w = Math.min(img.naturalWidth, 600), h = Math.max(1, Math.round(img.naturalHeight * w / img.naturalWidth));
    const c = document.createElement('canvas'); c.width = w; c.height = h;
    const g = c.getContext('2d'); g.drawImage(img, 0, 0, w, h);
    let d; try { d = g.getImageData(0, 0, w, h).data; } catch (e) { return null; }
    const [r0, g0, b0] = [d[0], d[1], d[2]];
    let ink = 0;
    for (let i = 0; i < d.length; i += 4)
      if (Math.abs(d[i] - r0) + Math.abs(d[i + 1] - g0) + Math.abs(d[i + 2] - b0) > 60) ink++;
    return ink / (w * h);
  }
  const out = {repr: [], unrounded: [], truncated: [], image: [], path: [], none: [], duplicate: [], figure: [],
               cut: [], index: [], verdicts: []};
  const reprRe = [/^\{.*:.*\}$/s, /^\[.*\]$/s, /^\(.*,.*\)$/s, /array\(/, /<[\w.]+ object at 0x/,
                  /\{'[^']*':/, /\['[^']*'/, /^(np|numpy)\./, /dtype[:=]/, /^Timestamp\(/];
  for (const cell of document.querySelectorAll('td, th')) {
    const t = cell.innerText.trim();
    if (!t) continue;
    if (reprRe.some(r => r.test(t))) out.repr.push(t.slice(0, 80));
    if (/(^|[^\w.])-?\d+\.\d{6,}(?![\w.])/.test(t)) out.unrounded.push(t.slice(0, 80));
    if (t === '…' || t === '...') out.truncated.push('a "' + t + '" cell');
    else if (/(…|\.\.\.)$/.test(t)) out.cut.push(t.slice(-60));
    if (/^(None|nan|NaN)$/.test(t)) out.none.push(t + ' in column ' + headerOf(cell));
  }
  for (const table of document.querySelectorAll('table')) {
    const heads = headers(table);
    const named = heads.map(h => NAMING.includes(h.toLowerCase()));
    const seen = new Map();
    let index = 0;
    for (const row of table.querySelectorAll('tbody tr')) {
      const th = row.querySelector('th');
      if (th && /^\d+$/.test(th.innerText.trim())) index++;
      const all = [...row.children];
      const offset = all.length - row.querySelectorAll('td').length;   // leading index cells
      const cells = all.slice(offset).map(c => c.innerText.trim());
      const hs = named.slice(named.length - cells.length);
      const key = cells.filter((_, i) => !hs[i]).join(' | ');
      if (cells.length >= 3 && key && seen.has(key)) out.duplicate.push(cells.join(' | ').slice(0, 100));
      seen.set(key, true);
      verdictsOf(heads.slice(heads.length - cells.length), cells).forEach(v => out.verdicts.push(v));
    }
    if (index >= 2) out.index.push('a table shows its row numbers (' + index + ' rows): ' + heads.slice(1, 4).join(' | '));
  }
  for (const img of document.images) {
    const ink = inkOf(img);
    if (ink !== null && ink < MIN_INK) out.figure.push((img.alt || 'a figure') + ': ' + (100 * ink).toFixed(2) + '% ink');
  }
  const text = document.body.innerText;
  for (const m of text.matchAll(/\d+ rows × \d+ columns/g)) out.truncated.push(m[0]);
  for (const m of text.matchAll(/<Figure size [^>]*>/g)) out.image.push(m[0] + ' (figure printed, not drawn)');
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) out.image.push((img.alt || 'image') + ' did not load');
  }
  for (const p of PATHS) {
    const i = text.indexOf(p);
    if (i >= 0) out.path.push(text.slice(i, i + 70));
  }
  return out;
})()
"""


def find_browser() -> str:
    for name in filter(None, (os.environ.get("CHROMIUM"), *BROWSERS)):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("check_reports: no Chromium found; install it (Debian/Ubuntu: `sudo apt-get install -y chromium`) "
             "or set CHROMIUM to the browser's path")


class Browser:
    """Headless Chromium over --remote-debugging-pipe (fd 3: commands in, fd 4: events out)."""

    def __init__(self, exe: str, width: int = 1280):
        self.width = width
        self.profile_dir = tempfile.mkdtemp(prefix="qarepro-chromium-")
        cmd_r, self._cmd_w = os.pipe()
        self._evt_r, evt_w = os.pipe()
        args = [exe, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
                f"--user-data-dir={self.profile_dir}", "about:blank"]
        # the child sees the two pipe ends as fds 3 and 4
        def remap():
            os.dup2(cmd_r, 3)
            os.dup2(evt_w, 4)
        self.proc = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=remap, close_fds=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(evt_w)
        self._buf = b""
        self._id = 0
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})

    def _read(self) -> dict:
        while b"\0" not in self._buf:
            chunk = os.read(self._evt_r, 1 << 20)
            if not chunk:
                raise RuntimeError("the browser closed its pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, params: dict | None = None, *, wait_event: str | None = None) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        result, seen = None, wait_event is None
        while result is None or not seen:
            m = self._read()
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error'].get('message')}")
                result = m.get("result", {})
            elif wait_event and m.get("method") == wait_event:
                seen = True
        return result

    def open(self, url: str) -> None:
        self.call("Page.navigate", {"url": url}, wait_event="Page.loadEventFired")

    def evaluate(self, js: str):
        r = self.call("Runtime.evaluate", {"expression": js, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(r["exceptionDetails"].get("text", "script failed"))
        return r["result"].get("value")

    def screenshot(self, path: Path, max_height: int = 16000) -> None:
        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
        height = max(1, min(height, max_height))
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        shot = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                    "clip": {"x": 0, "y": 0, "width": self.width,
                                                             "height": height, "scale": 1}})
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile_dir, ignore_errors=True)


def machine_paths() -> list[str]:
    """Absolute folders of this machine that no committed page may show."""
    from qarepro import paths

    found = {str(paths.ROOT), str(Path.home()), tempfile.gettempdir(), "/tmp/", "/home/", "/root/"}
    return sorted(p for p in found if p and p != "/")


def verdict_words() -> list[str]:
    from qarepro.report import labels  # the words the reports write

    return [labels.WITHIN, labels.OUTSIDE, labels.NOT_RUN, labels.NOT_COMPARABLE, labels.GAIN_SHOWN,
            labels.GAIN_NOT_SHOWN, labels.GAIN_REVERSED]


def check(browser: Browser, page: Path) -> dict[str, list]:
    """The page's problems by kind; "verdicts" holds its claims' verdicts ({key, verdict}) for
    `contradictions`, not a problem by itself."""
    browser.open(page.resolve().as_uri())
    js = CHECK_JS.replace("PATHS", json.dumps(machine_paths())).replace("VERDICT_WORDS", json.dumps(verdict_words()))
    return {k: v for k, v in browser.evaluate(js).items() if v}


def contradictions(verdicts: dict[str, list[dict]]) -> dict[str, list[str]]:
    """{page: problems}: a claim (card, claim, metric, model) given different verdicts by two pages."""
    first: dict[str, tuple[str, str]] = {}
    out: dict[str, list[str]] = {}
    for page, found in verdicts.items():
        for v in found:
            seen = first.setdefault(v["key"], (page, v["verdict"]))
            if seen[1] != v["verdict"]:
                out.setdefault(page, []).append(f"{v['key']}: {v['verdict']!r} here, {seen[1]!r} in {seen[0]}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile")
    ap.add_argument("--reports", default=None, help="folder of the profile's reports (default outputs/reports/<profile>)")
    ap.add_argument("--shots", default=None, help="save a full-page screenshot of each page here")
    ap.add_argument("--only", nargs="*", default=None, help="only these report names (e.g. 05_ablations)")
    ap.add_argument("--full", action="store_true", help="check the .full.html notebooks too")
    ap.add_argument("--width", type=int, default=1280)
    args = ap.parse_args(argv)

    from qarepro import paths

    folder = Path(args.reports) if args.reports else paths.reports(args.profile)
    pages = sorted(p for p in folder.glob("*.html") if args.full or not p.name.endswith(".full.html"))
    if args.only:
        pages = [p for p in pages if p.name.split(".")[0] in args.only]
    if not pages:
        print(f"check_reports: no reports in {folder}", file=sys.stderr)
        return 1
    browser = Browser(find_browser(), args.width)
    found: dict[str, dict[str, list]] = {}
    shots: dict[str, str] = {}
    try:
        for page in pages:
            found[page.name] = check(browser, page)
            if args.shots:
                dest = Path(args.shots) / f"{args.profile}-{page.name.removesuffix('.html')}.png"
                browser.screenshot(dest)
                shots[page.name] = f"  screenshot {dest}"
    finally:
        browser.close()
    across = contradictions({name: f.pop("verdicts", []) for name, f in found.items()})
    failed = 0
    for name, problems in found.items():
        if across.get(name):
            problems["contradiction"] = across[name]
        if problems:
            failed += 1
            print(f"FAIL {name}{shots.get(name, '')}")
            for kind, examples in problems.items():
                more = f" (+{len(examples) - 3} more)" if len(examples) > 3 else ""
                print(f"     {kind}: " + "; ".join(map(repr, examples[:3])) + more)
        else:
            print(f"ok   {name}{shots.get(name, '')}")
    print(f"{args.profile}: {len(pages) - failed} of {len(pages)} reports pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
