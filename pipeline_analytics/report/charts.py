"""Plotly figures for the report: one calm house style, and serialisation that is safe in <script>.

Figures are plain Plotly JSON rendered by the single embedded copy of plotly.js. Labels that come
from a CRM export are HTML-escaped before they reach Plotly (which renders a subset of HTML in
text), and the JSON itself has `<`, `>` and `&` written as \\u escapes, so no label can close the
<script> element it sits in, whatever the Plotly version does.
"""

from __future__ import annotations

import html
import json
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from markupsafe import Markup

from pipeline_analytics.report.formatting import Formatter
from pipeline_analytics.report.model import Chart

FONT_FAMILY = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif'
)
TEXT = "#1d2733"
MUTED = "#5b6670"
GRID = "#e6e9ee"
WON = "#2f7d6d"
WON_LIGHT = "#9cc8bd"
LOST = "#c06a4f"
FORECAST = "#34598f"
FORECAST_BAND = "rgba(52, 89, 143, 0.16)"
FUNNEL = "#4a6f9c"

PLOTLY_CONFIG = {
    "responsive": True,
    "displaylogo": False,
    "displayModeBar": "hover",
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
}

_SCRIPT_SAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def label(text: str | None, missing: str = "(none)") -> str:
    """A CRM-supplied name as Plotly text: escaped, since Plotly interprets tags in labels."""
    return html.escape(missing if text is None else text, quote=False)


def base_layout(fmt: Formatter, **overrides: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "template": "none",
        "font": {"family": FONT_FAMILY, "size": 13, "color": TEXT},
        "separators": fmt.locale.plotly_separators,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "margin": {"l": 64, "r": 24, "t": 16, "b": 48},
        "hoverlabel": {"font": {"family": FONT_FAMILY, "size": 12}, "align": "left"},
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "xaxis": {"gridcolor": GRID, "linecolor": GRID, "zeroline": False},
        "yaxis": {"gridcolor": GRID, "linecolor": GRID, "zeroline": False},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


def script_safe_json(text: str) -> str:
    """JSON that can sit inside an HTML <script> element: no `<`, `>` or `&` left literally."""
    return text.translate(_SCRIPT_SAFE)


def chart(figure: go.Figure, chart_id: str, height: int) -> Chart:
    """Serialise a figure (data, layout and config) for `Plotly.newPlot(id, spec)`."""
    # Plotly's encoder turns dates and numpy values into JSON; the round trip adds the config.
    spec = {**json.loads(pio.to_json(figure, validate=False)), "config": PLOTLY_CONFIG}
    text = json.dumps(spec, ensure_ascii=False, separators=(",", ":"))
    return Chart(chart_id=chart_id, spec=Markup(script_safe_json(text)), height=height)
