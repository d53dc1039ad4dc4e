"""How the report writes numbers, money, rates, days and dates: the one place a locale lives.

Figures get their hover text from here too (pre-formatted strings), so a chart and the table beside
it always show a value the same way. A new language is a new `Locale` constant in `LOCALES` plus a
message table in `i18n.py`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

MISSING = "—"

Number = int | float | Decimal


@dataclass(frozen=True)
class Locale:
    code: str
    decimal_separator: str
    group_separator: str
    month_names: tuple[str, ...]
    month_abbreviations: tuple[str, ...]
    day_names: tuple[str, ...]
    day_abbreviations: tuple[str, ...]
    # strftime-like patterns with {day}, {month} (abbreviated) and {year}.
    date_pattern: str
    month_pattern: str
    # "{sign}{symbol}{amount}" (English) or "{sign}{amount} {symbol}" (Italian).
    money_pattern: str
    # Suffix after a compact amount for thousands, millions, billions, trillions; an empty
    # thousands suffix means thousands are written in full (Italian does not abbreviate them).
    # Business abbreviations, never SI prefixes: billions are "B" ("Mrd" in Italian), not "G".
    compact_suffixes: tuple[str, ...]
    # Symbols where the locale writes one; other currencies are written with their ISO code.
    currency_symbols: dict[str, str]
    percent_pattern: str
    day_unit: str
    quarter_pattern: str  # with {quarter} (1-4) and {year}
    fiscal_quarter_pattern: str  # the same, {year} being the fiscal year

    @property
    def plotly_separators(self) -> str:
        """Plotly's `layout.separators`: decimal then group separator."""
        return self.decimal_separator + self.group_separator

    def plotly_locale(self) -> dict[str, Any]:
        """The `format` part of a plotly.js locale: month and day names for date axes."""
        return {
            "days": list(self.day_names),
            "shortDays": list(self.day_abbreviations),
            "months": list(self.month_names),
            "shortMonths": list(self.month_abbreviations),
            "decimal": self.decimal_separator,
            "thousands": self.group_separator,
            "grouping": [3],
            "periods": ["AM", "PM"] if self.code == "en" else ["", ""],
            "date": "%d/%m/%Y",
            "year": "%Y",
            "month": "%b %Y",
            "dayMonth": "%-d %b",
            "dayMonthYear": "%-d %b %Y",
        }


ENGLISH = Locale(
    code="en",
    decimal_separator=".",
    group_separator=",",
    month_names=(
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
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
    day_names=("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"),
    day_abbreviations=("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"),
    date_pattern="{month} {day}, {year}",
    month_pattern="{month} {year}",
    money_pattern="{sign}{symbol}{amount}",
    compact_suffixes=("K", "M", "B", "T"),
    currency_symbols={"USD": "$", "EUR": "€", "GBP": "£"},
    percent_pattern="{number}%",
    day_unit="days",
    quarter_pattern="Q{quarter} {year}",
    fiscal_quarter_pattern="Q{quarter} FY{year}",
)

ITALIAN = Locale(
    code="it",
    decimal_separator=",",
    group_separator=".",
    month_names=(
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "settembre",
        "ottobre",
        "novembre",
        "dicembre",
    ),
    month_abbreviations=(
        "gen",
        "feb",
        "mar",
        "apr",
        "mag",
        "giu",
        "lug",
        "ago",
        "set",
        "ott",
        "nov",
        "dic",
    ),
    day_names=("domenica", "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato"),
    day_abbreviations=("dom", "lun", "mar", "mer", "gio", "ven", "sab"),
    date_pattern="{day} {month} {year}",
    month_pattern="{month} {year}",
    money_pattern="{sign}{amount} {symbol}",
    compact_suffixes=("", " Mln", " Mrd", " Bln"),
    currency_symbols={"EUR": "€"},
    percent_pattern="{number}%",
    day_unit="giorni",
    quarter_pattern="T{quarter} {year}",
    fiscal_quarter_pattern="T{quarter} esercizio {year}",
)

LOCALES = {"en": ENGLISH, "it": ITALIAN}


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
        if text.startswith("-") and not text.strip("-0.,"):
            text = text[1:]  # -0.0 after rounding is 0
        swap = str.maketrans({",": self.locale.group_separator, ".": self.locale.decimal_separator})
        return text.translate(swap)

    def count(self, value: Number | None) -> str:
        return self.number(value)

    @property
    def currency_symbol(self) -> str:
        return self.locale.currency_symbols.get(self.currency, self.currency)

    def _money(self, value: Number, amount: str) -> str:
        symbol = self.currency_symbol
        if self.locale.money_pattern.startswith("{sign}{symbol}") and symbol == self.currency:
            symbol += " "  # "CHF 950", but "$950"
        sign = "-" if float(value) < 0 and amount.strip("0.,") else ""
        return self.locale.money_pattern.format(sign=sign, symbol=symbol, amount=amount)

    def money(self, value: Number | None, decimals: int = 0) -> str:
        """Currency amount: "$1,234,567" in English, "1.234.567 €" in Italian."""
        if is_missing(value):
            return MISSING
        return self._money(value, self.number(abs(float(value)), decimals))

    def money_compact(self, value: Number | None) -> str:
        """Three significant digits for cards and chart labels: "$1.23M", "1,23 Mln €"."""
        if is_missing(value):
            return MISSING
        return self._money(value, self._compact(abs(float(value))))

    def _compact(self, magnitude: float) -> str:
        suffixes = self.locale.compact_suffixes
        if round(magnitude) < 1000 or (not suffixes[0] and round(magnitude) < 999_500):
            return self.number(magnitude)
        exponent = 0
        while magnitude >= 999.5 and exponent < len(suffixes):
            magnitude /= 1000
            exponent += 1
        decimals = 2 if magnitude < 9.995 else 1 if magnitude < 99.95 else 0
        return self.number(magnitude, decimals) + suffixes[exponent - 1]

    def compact(self, value: Number | None) -> str:
        """A plain number in compact form, three significant digits: "1.20B", "1,20 Mrd"."""
        if is_missing(value):
            return MISSING
        sign = "-" if float(value) < 0 and round(abs(float(value))) else ""
        return sign + self._compact(abs(float(value)))

    def axis_labels(self, ticks: list[float]) -> list[str]:
        """Tick labels for an amount axis: "0", "250M", "500M", "1B", "1.25B" ("1,25 Mrd").

        Each tick in its own unit with the decimals it needs (ticks are round numbers), as d3's
        SI format writes them but with business suffixes; a locale that writes thousands in full
        (Italian) writes ticks below a million in full ("250.000").
        """
        return [self._tick_label(tick) for tick in ticks]

    def _tick_label(self, tick: float) -> str:
        suffixes = self.locale.compact_suffixes
        magnitude, exponent = abs(tick), 0
        while magnitude >= 1000 and exponent < len(suffixes):
            magnitude /= 1000
            exponent += 1
        if exponent == 1 and not suffixes[0]:
            magnitude, exponent = abs(tick), 0
        decimals = next((d for d in range(4) if abs(magnitude - round(magnitude, d)) < 1e-9), 3)
        suffix = suffixes[exponent - 1] if exponent else ""
        return ("-" if tick < 0 else "") + self.number(magnitude, decimals) + suffix

    def percent(self, rate: Number | None, decimals: int = 1) -> str:
        """A rate stored as a fraction (0.4123) shown as "41.2%" ("41,2%" in Italian)."""
        if is_missing(rate):
            return MISSING
        return self.locale.percent_pattern.format(number=self.number(float(rate) * 100, decimals))

    def signed(self, value: Number | None, show: Callable[[Number], str]) -> str:
        """A change with its sign, shown by `show` on its size: "+2.2%", "−$1,500", "0.0"."""
        if is_missing(value):
            return MISSING
        sign = "+" if value > 0 else "−" if value < 0 else ""
        return sign + show(abs(value))

    def points(self, rate_change: Number) -> str:
        """A change of a rate (0.04) in percentage points, without sign or unit: "4.0"."""
        return self.number(abs(float(rate_change)) * 100, 1)

    def days(self, value: Number | None) -> str:
        """ "12.3 days" ("12,3 giorni")."""
        if is_missing(value):
            return MISSING
        return f"{self.number(value, 1)} {self.locale.day_unit}"

    def day_count(self, value: Number | None) -> str:
        """Days without the unit, for table cells under a header that names it."""
        return self.number(value, 1)

    def ratio(self, value: Number | None) -> str:
        if is_missing(value):
            return MISSING
        return f"{self.number(value, 2)}×"

    def date(self, value: date | None) -> str:
        """ "Dec 31, 2024" in English, "31 dic 2024" in Italian."""
        if value is None:
            return MISSING
        return self.locale.date_pattern.format(
            day=value.day, month=self.locale.month_abbreviations[value.month - 1], year=value.year
        )

    def quarter(self, year: int, quarter: int) -> str:
        """ "Q4 2026" ("T4 2026": trimestre)."""
        return self.locale.quarter_pattern.format(quarter=quarter, year=year)

    def fiscal_quarter(self, fiscal_year: int, quarter: int) -> str:
        """ "Q1 FY2027": a fiscal year is named by the calendar year it ends in."""
        return self.locale.fiscal_quarter_pattern.format(quarter=quarter, year=fiscal_year)

    def month(self, value: date | None) -> str:
        if value is None:
            return MISSING
        return self.locale.month_pattern.format(
            month=self.locale.month_abbreviations[value.month - 1], year=value.year
        )
