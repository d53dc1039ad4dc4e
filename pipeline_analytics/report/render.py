"""Render the HTML report: one self-contained file, written atomically as a dated copy and latest.

The page embeds plotly.js once and runs only scripts this module knows: a Content-Security-Policy
lists the SHA-256 of each of them (plotly.js, one `Plotly.newPlot` call per chart, the page script),
so the browser would refuse any other script, and `default-src 'none'` forbids every network fetch.
A section that wants a script must therefore add it through a `Chart` (or extend PAGE_SCRIPT).
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path

import duckdb
import jinja2
import plotly.offline
from markupsafe import Markup

from pipeline_analytics import __version__
from pipeline_analytics.errors import InputError
from pipeline_analytics.report.data import fetch
from pipeline_analytics.report.formatting import LOCALES, Formatter
from pipeline_analytics.report.i18n import translator
from pipeline_analytics.report.model import Chart, ReportContext, Section
from pipeline_analytics.report.sections import SECTIONS
from pipeline_analytics.report.sections.changes import compared_run

# Sortable tables (numbers start descending, text ascending; blanks stay last) and charts resized
# to the paper width before printing.
PAGE_SCRIPT = Markup("""
"use strict";
function sortTable(table, header, column) {
  const numeric = header.dataset.type === "number";
  const current = header.getAttribute("aria-sort");
  const direction = current === "ascending" ? "descending"
    : current === "descending" ? "ascending" : numeric ? "descending" : "ascending";
  table.querySelectorAll("thead th").forEach((th) => th.removeAttribute("aria-sort"));
  header.setAttribute("aria-sort", direction);
  const sign = direction === "ascending" ? 1 : -1;
  const key = (row) => row.cells[column].dataset.sort;
  const body = table.tBodies[0];
  const rows = Array.from(body.rows).sort((a, b) => {
    const x = key(a), y = key(b);
    if (x === "" || y === "") return (x === "") - (y === "");
    return sign * (numeric ? Number(x) - Number(y) : x.localeCompare(y));
  });
  body.append(...rows);
}
document.querySelectorAll("table.sortable").forEach((table) => {
  table.querySelectorAll("thead th").forEach((header, column) => {
    const button = header.querySelector("button");
    button.addEventListener("click", () => sortTable(table, header, column));
  });
});
window.addEventListener("beforeprint", () => {
  document.querySelectorAll(".js-plotly-plot").forEach((plot) => Plotly.Plots.resize(plot));
});
""")


@dataclass(frozen=True)
class Page:
    title: str
    ctx: ReportContext
    sections: tuple[Section, ...]

    @property
    def charts(self) -> tuple[Chart, ...]:
        return tuple(b for s in self.sections for b in s.blocks if isinstance(b, Chart))


def render_report(
    con: duckdb.DuckDBPyConnection,
    *,
    output_dir: Path,
    title: str | None = None,
    language: str = "en",
    targets: dict[tuple[int, int], float] | None = None,
    compare: str | None = None,
) -> Path:
    """Write pipeline-report-<as_of>.html and latest.html into output_dir; return the dated one.

    `language` is "en" or "it"; `targets` maps (year, quarter) to a bookings target; `compare`
    names the base forecast run to say what changed since (a run id or a date; default: the run
    before the latest). The default title is "Pipeline report" in the report's language."""
    ctx = read_context(con, language, targets or {})
    if compare is not None:
        ctx = replace(ctx, compare_run_id=compared_run(con, compare))
    page = Page(
        title or ctx.t("Pipeline report"), ctx, tuple(build(con, ctx) for build in SECTIONS)
    )
    html = render_html(page)
    output_dir.mkdir(parents=True, exist_ok=True)
    dated = output_dir / f"pipeline-report-{ctx.as_of:%Y-%m-%d}.html"
    write_atomically(dated, html)
    write_atomically(output_dir / "latest.html", html)
    return dated


def read_context(
    con: duckdb.DuckDBPyConnection, language: str, targets: dict[tuple[int, int], float]
) -> ReportContext:
    rows = fetch(con, "select as_of, lookback_days, currency, built_at from build_params")
    if len(rows) != 1:
        raise InputError(
            f"build_params holds {len(rows)} rows, expected 1: run the build before the report"
        )
    params = rows[0]
    return ReportContext(
        as_of=params["as_of"],
        lookback_days=params["lookback_days"],
        currency=params["currency"],
        built_at=params["built_at"],
        fmt=Formatter(currency=params["currency"], locale=LOCALES[language]),
        t=translator(language),
        targets=targets,
    )


def render_html(page: Page) -> str:
    plotly_js = Markup(plotly.offline.get_plotlyjs())
    scripts = [plotly_js, *(chart.script for chart in page.charts), PAGE_SCRIPT]
    return template().render(
        page=page,
        fmt=page.ctx.fmt,
        t=page.ctx.t,
        version=__version__,
        css=stylesheet(),
        plotly_js=plotly_js,
        page_script=PAGE_SCRIPT,
        content_security_policy=content_security_policy(scripts),
    )


def content_security_policy(scripts: list[Markup]) -> str:
    """Allow exactly these inline scripts, inline styles, data: images, and no network at all."""
    hashes = " ".join(f"'sha256-{script_hash(s)}'" for s in scripts)
    return (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; "
        "img-src data: blob:; font-src data:"
    )


def script_hash(script: str) -> str:
    return base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


@cache
def template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline_analytics.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2")


@cache
def stylesheet() -> Markup:
    css = resources.files("pipeline_analytics.report").joinpath("report.css")
    return Markup(css.read_text(encoding="utf-8"))


def write_atomically(path: Path, text: str) -> None:
    """Write beside `path`, then rename over it: readers never see half a file."""
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temp_path = Path(temp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        temp_path.chmod(0o644)
        os.replace(temp_path, path)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
