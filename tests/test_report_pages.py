"""qarepro.report.pages: self-contained HTML reports and pages."""

from __future__ import annotations

import base64

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
from qarepro import report  # noqa: E402



def _executed_notebook(tmp_path):
    """A notebook as papermill leaves it: a code cell with a table output and one with a PNG."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    png = base64.b64encode(report.figure_png(fig)).decode()
    plt.close(fig)
    table_html = pd.DataFrame({"dataset": ["squad_v2-validation"], "f1": [84.0]}).to_html()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("secret_code_marker = 1\ntable", execution_count=1, outputs=[
            nbformat.v4.new_output("execute_result", {"text/html": table_html, "text/plain": "t"}, execution_count=1)]),
        nbformat.v4.new_code_cell("fig", execution_count=2, outputs=[
            nbformat.v4.new_output("display_data", {"image/png": png, "text/plain": "<Figure>"})]),
    ])
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


def test_rendered_html_is_self_contained_with_tables_and_images(tmp_path):
    written = report.render_notebook(_executed_notebook(tmp_path), tmp_path / "reports", "01_demo")
    assert set(written) == {"report", "full"}
    assert written["report"].name == "01_demo.html" and written["full"].name == "01_demo.full.html"
    for kind, path in written.items():
        html = path.read_text()
        assert "<table" in html and "squad_v2-validation" in html
        assert 'src="data:image/png;base64,' in html
        assert '<script src="http' not in html  # nothing fetched from a CDN
    assert "secret_code_marker" not in written["report"].read_text()  # report: code hidden
    assert "secret_code_marker" in written["full"].read_text()


def test_html_page_embeds_tables_and_figures():
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()
    page = report.html_page("T", ["text", pd.DataFrame({"a": [1]}), fig])
    plt.close(fig)
    assert "<table" in page and 'src="data:image/png;base64,' in page and "<h1>T</h1>" in page
