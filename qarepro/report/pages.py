"""HTML: a notebook rendered as a report (code hidden) and as the full notebook; small pages."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from ..io import atomic_path
from ..paths import portable_html
from .figures import figure_png
from .tables import format_table


DETAIL_TAG = "detail"


def render_notebook(notebook: str | Path, out_dir: str | Path, name: str | None = None) -> dict[str, Path]:
    """Render an executed notebook to two self-contained HTML files in `out_dir`:
    `<name>.html` (report: code hidden, cells tagged "detail" left out) and `<name>.full.html`
    (every cell, with code). Images are embedded
    as base64 data URIs; nothing is fetched when the page is opened offline except optional
    MathJax, which the reports do not use."""
    # deferred: nbconvert (with its templates) is slow to import; only rendering needs it
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    notebook, out_dir = Path(notebook), Path(out_dir)
    name = name or notebook.stem
    nb = nbformat.read(notebook, as_version=4)
    written = {}
    # The lab template, minus the two scripts it would fetch from a CDN (require.js, MathJax).
    offline = DictLoader({"qarepro_offline.html.j2": (
        "{%- extends 'index.html.j2' -%}\n"
        "{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}\n"
        "{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}\n")})
    for kind, hide in (("report", True), ("full", False)):
        exporter = HTMLExporter(template_name="lab", template_file="qarepro_offline.html.j2", extra_loaders=[offline],
                                embed_images=True, exclude_input=hide,
                                exclude_input_prompt=hide, exclude_output_prompt=hide)
        if hide:  # cells tagged "detail" (long tables) appear in the full notebook only
            exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={DETAIL_TAG}, enabled=True), enabled=True)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": name}})
        target = out_dir / (f"{name}.html" if hide else f"{name}.full.html")
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            tmp.write_text(portable_html(body), encoding="utf-8")  # no absolute path of this machine
        written[kind] = target
    return written


def html_page(title: str, parts: Sequence[str | pd.DataFrame | Any]) -> str:
    """A minimal self-contained HTML page of headings/text, tables and figures (base64 PNG)."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    for p in parts:
        if isinstance(p, pd.DataFrame):
            body.append(format_table(p).to_html(index=False, border=0, classes="table"))
        elif hasattr(p, "savefig"):
            data = base64.b64encode(figure_png(p)).decode("ascii")
            body.append(f'<img alt="figure" src="data:image/png;base64,{data}"/>')
        else:
            body.append(f"<p>{html.escape(str(p))}</p>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
             "table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #ddd}"
             "img{max-width:100%}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")
