"""How the report writes numbers, money, rates, days and dates: the one place a locale lives.

Separators, currency placement, month and day names, the date, month and quarter patterns, the
compact suffixes and the word for days come from Babel's copy of the Unicode CLDR locale data.
Where CLDR writes something other than what the report has always written, the report's form is
kept, on purpose and in one place each:

- plain spaces where CLDR puts no-break ones ("1.234 €", "3,40 Mln €"): `NO_BREAK_SPACES`;
- a currency symbol only for the currencies a `Locale` lists, the ISO code otherwise, set apart
  from the digits ("CHF 950": CLDR's currency spacing rule, which Babel does not apply):
  `Locale.symbol_currencies`, `Locale.money`;
- Italian compact amounts write thousands in full and billions "Mrd": `ITALIAN`;
- compact amounts with three significant digits ("1.23M", where CLDR's short format has "1M"),
  axis ticks with the decimals they need: `Formatter._compact`, `Formatter._tick_label`;
- rounding is Python's (the float's binary value, ties to even), done before Babel writes the
  digits: Babel rounds the float's decimal text, so 0.265 would read "0.26" instead of "0.27".
Figures get their hover text from here too (pre-formatted strings), so a chart and the table beside
it always show a value the same way. A new language is a `Locale` in `LOCALES` plus its catalog in
`report/locale/`.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from copy import copy
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache, cached_property
from typing import Any

import babel
from babel.dates import format_date, format_skeleton
from babel.numbers import NumberPattern, get_currency_symbol
from babel.units import format_unit

from pipeline_analytics.report.i18n import translator

MISSING = "—"
NO_BREAK_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " "})

Number = int | float | Decimal


@dataclass(frozen=True)
class Locale:
    """A report language: CLDR's data for `code`, with the report's overrides."""

    code: str
    # Currencies written with the locale's symbol ("$950", "950 €"); any other currency is written
    # with its ISO code ("CHF 950", "950 USD").
    symbol_currencies: frozenset[str]
    # Compact suffixes that differ from CLDR's, by power of a thousand (1: thousands, 3: billions);
    # an empty thousands suffix writes thousands in full.
    compact_overrides: tuple[tuple[int, str], ...] = ()

    @cached_property
    def cldr(self) -> babel.Locale:
        return babel.Locale.parse(self.code)

    @property
    def decimal_separator(self) -> str:
        return self.cldr.number_symbols["latn"]["decimal"]

    @property
    def group_separator(self) -> str:
        return self.cldr.number_symbols["latn"]["group"]

    @property
    def month_names(self) -> tuple[str, ...]:
        return tuple(self.cldr.months["format"]["wide"][m] for m in range(1, 13))

    @property
    def month_abbreviations(self) -> tuple[str, ...]:
        return tuple(self.cldr.months["format"]["abbreviated"][m] for m in range(1, 13))

    @property
    def day_names(self) -> tuple[str, ...]:
        """Sunday first, as Plotly wants them (CLDR counts from Monday, 0)."""
        return tuple(self.cldr.days["format"]["wide"][d] for d in (6, 0, 1, 2, 3, 4, 5))

    @property
    def day_abbreviations(self) -> tuple[str, ...]:
        return tuple(self.cldr.days["format"]["abbreviated"][d] for d in (6, 0, 1, 2, 3, 4, 5))

    @cached_property
    def compact_suffixes(self) -> tuple[str, ...]:
        """Suffixes of a compact amount for thousands, millions, billions, trillions: business
        abbreviations ("B", "Mrd"), never SI prefixes ("G")."""
        patterns = self.cldr.compact_decimal_formats["short"]["other"]
        suffixes = [patterns[str(1000**power)].suffix[0] for power in range(1, 5)]
        for power, suffix in self.compact_overrides:
            suffixes[power - 1] = suffix
        return tuple(s.translate(NO_BREAK_SPACES) for s in suffixes)

    @property
    def plotly_separators(self) -> str:
        """Plotly's `layout.separators`: decimal then group separator."""
        return self.decimal_separator + self.group_separator

    def plotly_locale(self) -> dict[str, Any]:
        """The `format` part of a plotly.js locale: month and day names for date axes."""
        twelve_hour_clock = "a" in self.cldr.time_formats["short"].pattern
        return {
            "days": list(self.day_names),
            "shortDays": list(self.day_abbreviations),
            "months": list(self.month_names),
            "shortMonths": list(self.month_abbreviations),
            "decimal": self.decimal_separator,
            "thousands": self.group_separator,
            "grouping": [3],
            "periods": [self.cldr.periods["am"], self.cldr.periods["pm"]]
            if twelve_hour_clock
            else ["", ""],
            "date": "%d/%m/%Y",
            "year": "%Y",
            "month": "%b %Y",
            "dayMonth": "%-d %b",
            "dayMonthYear": "%-d %b %Y",
        }

    def digits(self, rounded: Decimal, decimals: int, percent: bool = False) -> str:
        """`rounded` written with exactly `decimals` decimals (a fraction as a percentage when
        `percent`)."""
        pattern = fixed_decimals(self, "percent" if percent else "decimal", decimals)
        return pattern.apply(rounded, self.cldr).translate(NO_BREAK_SPACES)

    def money(self, negative: bool, amount: str, symbol: str) -> str:
        """`amount` (written, unsigned) placed with `symbol` by the locale's currency pattern."""
        pattern = self.cldr.currency_formats["standard"]
        prefix, suffix = pattern.prefix[negative], pattern.suffix[negative]
        # CLDR's currency spacing: a symbol that is not a symbol character ("CHF") sits apart from
        # the digits.
        if prefix.endswith("¤") and not unicodedata.category(symbol[-1]).startswith("S"):
            prefix += " "
        if suffix.startswith("¤") and not unicodedata.category(symbol[0]).startswith("S"):
            suffix = " " + suffix
        return (prefix + amount + suffix).replace("¤", symbol).translate(NO_BREAK_SPACES)


# The report's overrides of CLDR. Symbols: CLDR writes one for most currencies ("CA$", "JP¥", "£"
# in Italian); the report keeps the ones its readers know and writes the ISO code for the rest.
ENGLISH = Locale("en", symbol_currencies=frozenset({"USD", "EUR", "GBP"}))
# Italian writes thousands in full ("45.800": CLDR's pattern for thousands is "0", which Babel's
# data loses to root's "0K") and billions "Mrd", the business abbreviation (CLDR has "Mld").
ITALIAN = Locale(
    "it", symbol_currencies=frozenset({"EUR"}), compact_overrides=((1, ""), (3, " Mrd"))
)

LOCALES = {"en": ENGLISH, "it": ITALIAN}


@cache
def fixed_decimals(locale: Locale, kind: str, decimals: int) -> NumberPattern:
    """The locale's "decimal" or "percent" pattern with exactly `decimals` decimals: the report
    chooses them per figure (CLDR's decimal pattern shows up to three, its percent pattern none)."""
    formats = locale.cldr.percent_formats if kind == "percent" else locale.cldr.decimal_formats
    pattern = copy(formats[None])
    pattern.frac_prec = (decimals, decimals)
    return pattern


def is_missing(value: Number | None) -> bool:
    """NULL from the warehouse, or a NaN that slipped through: shown as a dash, never as 0."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def rounded(value: Number, decimals: int) -> Decimal:
    """`value` rounded as Python formats a float (its binary value, ties to even); never -0."""
    result = Decimal(f"{float(value):.{decimals}f}")
    return abs(result) if result.is_zero() else result


@dataclass(frozen=True)
class Formatter:
    """Formats values for people; `currency` is the warehouse's reporting currency."""

    currency: str
    locale: Locale = ENGLISH

    def number(self, value: Number | None, decimals: int = 0) -> str:
        if is_missing(value):
            return MISSING
        return self.locale.digits(rounded(value, decimals), decimals)

    def count(self, value: Number | None) -> str:
        return self.number(value)

    @property
    def currency_symbol(self) -> str:
        if self.currency in self.locale.symbol_currencies:
            return get_currency_symbol(self.currency, self.locale.cldr)
        return self.currency

    def money(self, value: Number | None, decimals: int = 0) -> str:
        """Currency amount: "$1,234,567" in English, "1.234.567 €" in Italian."""
        if is_missing(value):
            return MISSING
        amount = rounded(abs(float(value)), decimals)
        negative = float(value) < 0 and not amount.is_zero()
        return self.locale.money(
            negative, self.locale.digits(amount, decimals), self.currency_symbol
        )

    def money_compact(self, value: Number | None) -> str:
        """Three significant digits for cards and chart labels: "$1.23M", "1,23 Mln €"."""
        if is_missing(value):
            return MISSING
        magnitude = abs(float(value))
        negative = float(value) < 0 and round(magnitude) != 0
        return self.locale.money(negative, self._compact(magnitude), self.currency_symbol)

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
        # Rounded as a number of percent, then handed to the percent pattern as a fraction again.
        percent = rounded(float(rate) * 100, decimals)
        return self.locale.digits(percent.scaleb(-2), decimals, percent=True)

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
        """ "12.3 days" ("12,3 giorni"): CLDR's unit pattern, its plural read from "12.3"."""
        if is_missing(value):
            return MISSING
        pattern = fixed_decimals(self.locale, "decimal", 1)
        text = format_unit(
            rounded(value, 1), "duration-day", format=pattern, locale=self.locale.cldr
        )
        return text.translate(NO_BREAK_SPACES)

    def day_count(self, value: Number | None) -> str:
        """Days without the unit, for table cells under a header that names it."""
        return self.number(value, 1)

    def ratio(self, value: Number | None) -> str:
        if is_missing(value):
            return MISSING
        return f"{self.number(value, 2)}×"

    def date(self, value: date | None) -> str:
        """ "Dec 31, 2024" in English, "31 dic 2024" in Italian: CLDR's medium date."""
        if value is None:
            return MISSING
        return format_date(value, "medium", locale=self.locale.cldr).translate(NO_BREAK_SPACES)

    def quarter(self, year: int, quarter: int) -> str:
        """ "Q4 2026" ("T4 2026": trimestre)."""
        first_day = date(year, 3 * quarter - 2, 1)
        return format_skeleton("yQQQ", first_day, locale=self.locale.cldr).translate(
            NO_BREAK_SPACES
        )

    def fiscal_quarter(self, fiscal_year: int, quarter: int) -> str:
        """ "Q1 FY2027": a fiscal year is named by the calendar year it ends in. CLDR has no
        fiscal years: the words come from the report's catalog."""
        t = translator(self.locale.code)
        name = self.locale.cldr.quarters["format"]["abbreviated"][quarter]
        return t("{quarter} FY{year}", quarter=name, year=fiscal_year)

    def month(self, value: date | None) -> str:
        """ "Mar 2026" ("mar 2026")."""
        if value is None:
            return MISSING
        return format_skeleton("yMMM", value, locale=self.locale.cldr).translate(NO_BREAK_SPACES)
