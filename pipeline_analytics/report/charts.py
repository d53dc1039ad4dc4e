"""Plotly figures for the report: one calm house style, and serialisation that is safe in <script>.

Figures are plain Plotly JSON rendered by the single embedded copy of plotly.js. Labels that come
from a CRM export are HTML-escaped before they reach Plotly (which renders a subset of HTML in
text), and the JSON itself has `<`, `>` and `&` written as \\u escapes, so no label can close the
<script> element it sits in, whatever the Plotly version does.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from markupsafe import Markup

from pipeline_analytics.report.formatting import Formatter
from pipeline_analytics.report.model import Chart, ReportContext

FONT_FAMILY = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif'
)
TEXT = "#1d2733"
MUTED = "#5b6670"
GRID = "#e6e9ee"
WON = "#2f7d6d"
WON_LIGHT = "#9cc8bd"
LOST = "#c06a4f"
OPEN = "#c9ced6"
FORECAST = "#34598f"
FORECAST_BAND = "rgba(52, 89, 143, 0.16)"


def add_band(
    figure: go.Figure,
    x: list[Any],
    low: list[Any],
    high: list[Any],
    *,
    name: str | None = None,
    fillcolor: str = FORECAST_BAND,
    legendgroup: str | None = None,
) -> None:
    """A shaded band between two lines (P10-P90): the low edge, then the high one filled down to it.

    Named bands get a legend entry; unnamed ones stay out of the legend.
    """
    edge = {"mode": "lines", "line": {"width": 0}, "hoverinfo": "skip"}
    if legendgroup is not None:
        edge["legendgroup"] = legendgroup
    figure.add_scatter(x=x, y=low, showlegend=False, **edge)
    figure.add_scatter(
        x=x,
        y=high,
        fill="tonexty",
        fillcolor=fillcolor,
        name=name,
        showlegend=name is not None,
        **edge,
    )


FORECAST_BAND_INNER = "rgba(52, 89, 143, 0.30)"
NEW_PIPELINE = "#8fa9cc"
FUNNEL = "#4a6f9c"
ACCENT = "#b58a2e"
# Methods compared with the engine, in a fixed order so colours stay put between reports.
BASELINE_COLOURS = ("#c06a4f", "#b58a2e", "#7f8a96", "#8c6bb1", "#5b9bb0")

# Plotly's own words a reader can see (the one mode bar button we keep and its messages).
PLOTLY_MESSAGES = (
    "Download plot as a PNG",
    "Download plot",
    "Taking snapshot - this may take a few seconds",
    "Snapshot succeeded",
    "Sorry, there was a problem downloading your snapshot!",
    "Double-click to zoom back out",
)

_SCRIPT_SAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def label(text: str | None, missing: str = "(none)") -> str:
    """A CRM-supplied name as Plotly text: escaped, since Plotly interprets tags in labels."""
    return html.escape(missing if text is None else text, quote=False)


def base_layout(ctx: ReportContext, **overrides: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "template": "none",
        "font": {"family": FONT_FAMILY, "size": 13, "color": TEXT},
        "separators": ctx.fmt.locale.plotly_separators,
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


def funnel_figure_base(ctx: ReportContext) -> go.Figure:
    """An empty horizontal funnel: labels on the left, no value axis, no legend."""
    return go.Figure(
        layout=base_layout(
            ctx,
            margin={"l": 160, "r": 24, "t": 8, "b": 8},
            yaxis={"gridcolor": "rgba(0,0,0,0)", "automargin": True, "type": "category"},
            xaxis={"visible": False},
            showlegend=False,
        )
    )


def month_axis(months: int) -> dict[str, Any]:
    """A date axis ticked on month starts, every month up to a year, then quarterly or yearly:
    left to itself Plotly ticks short ranges weekly and repeats the month's name."""
    step = 1 if months <= 12 else 3 if months <= 36 else 12
    return {"type": "date", "tickformat": "%b %Y", "dtick": f"M{step}"}


def script_safe_json(text: str) -> str:
    """JSON that can sit inside an HTML <script> element: no `<`, `>` or `&` left literally."""
    return text.translate(_SCRIPT_SAFE)


def plotly_config(ctx: ReportContext, chart_id: str) -> dict[str, Any]:
    """Only the download button; month names, separators and Plotly's messages in the locale."""
    locale = ctx.fmt.locale
    config: dict[str, Any] = {
        "responsive": True,
        "displaylogo": False,
        "displayModeBar": "hover",
        "modeBarButtons": [["toImage"]],
        "toImageButtonOptions": {"filename": chart_id},
    }
    if locale.code != "en":
        config["locale"] = locale.code
        config["locales"] = {
            locale.code: {
                "format": locale.plotly_locale(),
                "dictionary": {message: ctx.t(message) for message in PLOTLY_MESSAGES},
            }
        }
    return config


# Plotly's SI tick format: sections ask for it on amount axes, and `chart` writes those ticks itself
# (d3's SI prefixes write a billion as "1G"; a reader expects "1B", or "1 Mrd" in Italian).
SI_TICKS = "~s"
TICKS_WANTED = 5
_AXIS_KEY = re.compile(r"^([xy])axis(\d*)$")


def nice_ticks(values: Iterable[float], wanted: int = TICKS_WANTED) -> list[float]:
    """About `wanted` round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) covering
    zero and every value: amount axes start at zero."""
    finite = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    low, high = min([0.0, *finite]), max([0.0, *finite])
    if high == low:
        return [0.0]
    raw = (high - low) / wanted
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first, last = math.floor(low / step), math.ceil(high / step)
    return [round(i * step, 9) for i in range(first, last + 1)]


def _numbers(values: Any) -> list[float]:
    if values is None:
        return []
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


def _waterfall_levels(trace: Any) -> list[float]:
    """The heights a waterfall's bars reach: running totals, restarted by absolute steps."""
    levels, level = [], 0.0
    measures = trace.measure or ["relative"] * len(trace.y or ())
    for measure, value in zip(measures, trace.y or (), strict=False):
        if measure == "absolute":
            level = float(value or 0)
        elif measure == "relative":
            level += float(value or 0)
        levels.append(level)
    return levels


def axis_values(figure: go.Figure, axis_key: str) -> list[float]:
    """Every value drawn against one axis ("yaxis", "yaxis2", "xaxis"), stacked bars summed."""
    letter, number = _AXIS_KEY.match(axis_key).groups()
    ref = letter + number
    stacked = figure.layout.barmode in ("stack", "relative")
    values: list[float] = []
    stacks: dict[tuple[Any, bool], float] = defaultdict(float)
    for trace in figure.data:
        if (getattr(trace, f"{letter}axis", None) or letter) != ref:
            continue
        if trace.type == "waterfall":
            values += _waterfall_levels(trace)
            continue
        along = getattr(trace, letter, None)
        if trace.type == "bar" and stacked and along is not None:
            other = getattr(trace, "x" if letter == "y" else "y", None) or range(len(along))
            for key, value in zip(other, _numbers(along), strict=False):
                stacks[(key, value >= 0)] += value
            continue
        values += _numbers(along)
    return values + list(stacks.values())


def write_compact_ticks(figure: go.Figure, fmt: Formatter) -> None:
    """Replace SI tick formats by explicit ticks labelled in the locale's compact form."""
    for axis_key in list(figure.layout.to_plotly_json()):
        if not _AXIS_KEY.match(axis_key):
            continue
        axis = figure.layout[axis_key]
        if axis.tickformat != SI_TICKS:
            continue
        ticks = nice_ticks(axis_values(figure, axis_key))
        axis.update(
            tickformat=None, tickmode="array", tickvals=ticks, ticktext=fmt.axis_labels(ticks)
        )


def chart(figure: go.Figure, chart_id: str, height: int, ctx: ReportContext) -> Chart:
    """Serialise a figure (data, layout and config) for `Plotly.newPlot(id, spec)`.

    Amount axes asking for SI ticks get explicit ones in the locale's compact form (1.2B, never
    1.2G), whichever section drew the figure.
    """
    figure = go.Figure(figure)  # a copy: the caller's figure keeps what it asked for
    write_compact_ticks(figure, ctx.fmt)
    # Plotly's encoder turns dates and numpy values into JSON; the round trip adds the config.
    spec = {
        **json.loads(pio.to_json(figure, validate=False)),
        "config": plotly_config(ctx, chart_id),
    }
    text = json.dumps(spec, ensure_ascii=False, separators=(",", ":"))
    return Chart(chart_id=chart_id, spec=Markup(script_safe_json(text)), height=height)
