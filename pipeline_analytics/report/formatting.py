"""How the report writes numbers, money, rates, days and dates: the one place a locale lives.

Figures get their hover text from here too (pre-formatted strings), so a chart and the table beside
it always show a value the same way. A new language is a new `Locale` constant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

MISSING = "—"

Number = int | float | Decimal


@dataclass(frozen=True)
class Locale:
    decimal_separator: str
    group_separator: str
    month_abbreviations: tuple[str, ...]
    day_unit: str
    # Thousand, million, billion, trillion, as written after a compact amount ("$1.23M").
    compact_suffixes: tuple[str, ...]
    currency_symbols: dict[str, str]

    @property
    def plotly_separators(self) -> str:
        """Plotly's `layout.separators`: decimal then group separator."""
        return self.decimal_separator + self.group_separator


ENGLISH = Locale(
    decimal_separator=".",
    group_separator=",",
    month_abbreviations=(
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
    ),
    day_unit="days",
    compact_suffixes=("K", "M", "B", "T"),
    currency_symbols={"USD": "$", "EUR": "€", "GBP": "£"},
)


def is_missing(value: Number | None) -> bool:
    """NULL from the warehouse, or a NaN that slipped through: shown as a dash, never as 0."""
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class Formatter:
    """Formats values for people; `currency` is the warehouse's reporting currency."""

    currency: str
    locale: Locale = ENGLISH

    def number(self, value: Number | None, decimals: int = 0) -> str:
        if is_missing(value):
            return MISSING
        text = f"{float(value):,.{decimals}f}"
        swap = str.maketrans({",": self.locale.group_separator, ".": self.locale.decimal_separator})
        return text.translate(swap)

    def count(self, value: Number | None) -> str:
        return self.number(value)

    def money(self, value: Number | None) -> str:
        """Whole currency units with the ISO code: "USD 1,234,567"."""
        if is_missing(value):
            return MISSING
        return f"{self.currency} {self.number(value)}"

    def money_compact(self, value: Number | None) -> str:
        """Three significant digits for cards and chart labels: "$1.23M", "CHF 950"."""
        if is_missing(value):
            return MISSING
        symbol = self.locale.currency_symbols.get(self.currency)
        prefix = symbol if symbol else f"{self.currency} "
        sign = "-" if value < 0 else ""
        return f"{sign}{prefix}{self._compact(abs(float(value)))}"

    def _compact(self, magnitude: float) -> str:
        if round(magnitude) < 1000:
            return self.number(magnitude)
        exponent = 0
        while magnitude >= 999.5 and exponent < len(self.locale.compact_suffixes):
            magnitude /= 1000
            exponent += 1
        decimals = 2 if magnitude < 9.995 else 1 if magnitude < 99.95 else 0
        return self.number(magnitude, decimals) + self.locale.compact_suffixes[exponent - 1]

    def percent(self, rate: Number | None) -> str:
        """A rate stored as a fraction (0.4123) shown as "41.2%"."""
        if is_missing(rate):
            return MISSING
        return f"{self.number(float(rate) * 100, 1)}%"

    def days(self, value: Number | None) -> str:
        if is_missing(value):
            return MISSING
        return f"{self.number(value, 1)} {self.locale.day_unit}"

    def day_count(self, value: Number | None) -> str:
        """Days without the unit, for table cells under a "days" header."""
        return self.number(value, 1)

    def ratio(self, value: Number | None) -> str:
        if is_missing(value):
            return MISSING
        return f"{self.number(value, 2)}×"

    def date(self, value: date | None) -> str:
        return MISSING if value is None else value.strftime("%Y-%m-%d")

    def month(self, value: date) -> str:
        return f"{self.locale.month_abbreviations[value.month - 1]} {value.year}"
