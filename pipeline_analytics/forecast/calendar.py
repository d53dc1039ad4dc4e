"""The forecast's months and the periods (quarters, years) they add up to.

Month 1 is the calendar month containing as_of; only its part from as_of on is forecast, since what
closed before as_of is a fact. Month k is the (k-1)-th calendar month after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

DAYS_PER_MONTH = 365.25 / 12


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_start(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


@dataclass(frozen=True)
class MonthGrid:
    """The forecast months: first days, and where each starts and ends in days after as_of."""

    as_of: datetime
    starts: tuple[date, ...]
    start_days: np.ndarray  # month 1 starts at 0 (as_of), the others at their first day
    end_days: np.ndarray

    @property
    def horizon(self) -> int:
        return len(self.starts)

    @property
    def first_month_remaining(self) -> float:
        """Share of month 1 still ahead of as_of (1.0 when as_of is its first instant)."""
        whole = (self.end_days[0] - self._days_after_as_of(self.starts[0])) or 1.0
        return float(self.end_days[0] / whole)

    def _days_after_as_of(self, day: date) -> float:
        return (datetime(day.year, day.month, day.day) - self.as_of).total_seconds() / 86400.0


def month_grid(as_of: datetime, horizon_months: int) -> MonthGrid:
    first = month_start(as_of)
    starts = tuple(add_months(first, k) for k in range(horizon_months + 1))
    bounds = np.array(
        [(datetime(s.year, s.month, s.day) - as_of).total_seconds() / 86400.0 for s in starts]
    )
    start_days = bounds[:-1].copy()
    start_days[0] = 0.0
    return MonthGrid(as_of, starts[:-1], start_days, bounds[1:])


@dataclass(frozen=True)
class Period:
    """A fiscal quarter or year (or a single month) overlapping the forecast months."""

    kind: str  # 'month', 'quarter' or 'year'
    start: date
    months: tuple[int, ...]  # indices into the forecast months
    complete: bool  # every month of the period is closed or forecast (none beyond the horizon)


def periods(grid: MonthGrid, fiscal_year_start_month: int = 1) -> list[Period]:
    """Months, fiscal quarters and fiscal years that the forecast months fall in, in time order."""
    result = [Period("month", s, (k,), True) for k, s in enumerate(grid.starts)]
    horizon_end = add_months(grid.starts[-1], 1)
    for kind, length in (("quarter", 3), ("year", 12)):
        groups: dict[date, list[int]] = {}
        for k, s in enumerate(grid.starts):
            offset = (s.month - fiscal_year_start_month) % length
            groups.setdefault(add_months(s, -offset), []).append(k)
        for start, months in groups.items():
            complete = add_months(start, length) <= horizon_end
            result.append(Period(kind, start, tuple(months), complete))
    return result
