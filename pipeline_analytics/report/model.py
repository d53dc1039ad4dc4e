"""What a report section hands to the template: small immutable values, no HTML.

A section is a title, an optional line of context, KPI cards and a sequence of blocks (headings,
charts, tables, notes). The template renders each kind the same way wherever it appears, so a new
section is one function returning a `Section`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from markupsafe import Markup

from pipeline_analytics.report.formatting import Formatter, is_missing
from pipeline_analytics.report.i18n import Translator


@dataclass(frozen=True)
class ReportContext:
    """The build's parameters (read once from `build_params`), the locale and the report settings.

    `targets` maps (year, quarter) to the bookings target of that calendar quarter;
    `compare_run_id` is the run `report --compare` named (None: the run before the latest).
    """

    as_of: datetime
    lookback_days: int
    currency: str
    built_at: datetime | None
    fmt: Formatter
    t: Translator
    targets: dict[tuple[int, int], float] = field(default_factory=dict)
    compare_run_id: int | None = None


@dataclass(frozen=True)
class KpiValue:
    """One number on a card: `key` is the mart column, `value` its raw value for machines."""

    key: str
    value: int | float | Decimal | None
    text: str
    label: str = ""

    @property
    def machine_value(self) -> str:
        """The exact stored value for `data-value` (shortest repr that round-trips a float)."""
        if is_missing(self.value):
            return ""
        return repr(self.value) if isinstance(self.value, float) else str(self.value)


@dataclass(frozen=True)
class Change:
    """A KPI's change against the previous period, as shown: "▼ 4.0 points"."""

    text: str
    tone: Literal["good", "bad", "neutral"]


@dataclass(frozen=True)
class KpiCard:
    title: str
    main: KpiValue
    details: tuple[KpiValue, ...] = ()
    hint: str = ""
    change: Change | None = None
    # One line of plain language: "Win rate fell 4.0 points, driven by Proposal → Negotiation."
    reading: str = ""


@dataclass(frozen=True)
class Heading:
    text: str
    kind: Literal["heading"] = "heading"


@dataclass(frozen=True)
class Note:
    text: str
    tone: Literal["info", "unavailable"] = "info"
    kind: Literal["note"] = "note"


@dataclass(frozen=True)
class Paragraphs:
    """Plain prose under optional subheadings: (heading, (paragraph, ...)) pairs."""

    parts: tuple[tuple[str, tuple[str, ...]], ...]
    kind: Literal["paragraphs"] = "paragraphs"


@dataclass(frozen=True)
class Chart:
    """A Plotly figure: `spec` is its {data, layout, config} JSON, already safe inside <script>."""

    chart_id: str
    spec: Markup
    height: int
    kind: Literal["chart"] = "chart"

    def __post_init__(self) -> None:
        # The id is written into HTML and JavaScript unescaped; only our own simple ids qualify.
        if not re.fullmatch(r"[a-z][a-z0-9-]*", self.chart_id):
            raise ValueError(f"chart id {self.chart_id!r} must be lowercase letters, digits, '-'")

    @property
    def script(self) -> Markup:
        """The page's script for this chart, exactly as embedded (its hash goes in the CSP)."""
        return Markup(f'Plotly.newPlot("{self.chart_id}", {self.spec});')


@dataclass(frozen=True)
class Column:
    label: str
    numeric: bool = True


@dataclass(frozen=True)
class Cell:
    """A table cell; `sort_value` orders the column (None sorts last), `flag` adds a badge."""

    text: str
    sort_value: int | float | str | None = None
    flag: str | None = None
    flag_tone: Literal["warn", "calm"] = "warn"

    @property
    def sort_key(self) -> str:
        if self.sort_value is None or is_missing(self.sort_value):
            return ""
        return str(self.sort_value)


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    caption: str = ""
    sortable: bool = False
    kind: Literal["table"] = "table"


Block = Heading | Note | Paragraphs | Chart | Table


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    intro: str = ""
    cards: tuple[KpiCard, ...] = ()
    blocks: tuple[Block, ...] = ()
    unavailable: str | None = None
