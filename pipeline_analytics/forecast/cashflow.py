"""Cash flow: bookings become invoices, payments and recognised revenue under the config's terms.

Everything is monthly and linear in bookings, so each simulation's won amounts (per cash-flow
group and booking month) are turned into billings, collections and revenue by convolution with
the group's kernels, and the bands are percentiles over simulations. Deals already won before
as_of add their scheduled amounts the same way (the same in every simulation).

Kernels, by months after the booking month (docs/forecasting.md):
- billing: `upfront` all at once; `annual`, `quarterly`, `monthly` an invoice every 12, 3 or 1
  months over term_months, each for its share of the term; `milestones` as listed.
- collections: an invoice is due payment_terms_days after it is issued, and the collection_curve
  shares are paid 0, 30, 60 and 90 days after that; bad_debt is never paid. Invoices are spread
  evenly over the month they are issued in, so a payment lag of L days lands L / 30.44 months
  later, split between the two months that straddles.
- recognised revenue: ratably over term_months from the booking month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline_analytics.config import COLLECTION_CURVE_DAYS, CashflowSettings, PaymentTerms
from pipeline_analytics.forecast.calendar import DAYS_PER_MONTH

INVOICE_INTERVAL = {"annual": 12, "quarterly": 3, "monthly": 1}


@dataclass(frozen=True)
class Kernels:
    billing: np.ndarray
    collection: np.ndarray
    recognition: np.ndarray


def kernels(terms: PaymentTerms, length: int) -> Kernels:
    """Shares of a booked amount billed, collected and recognised k = 0..length-1 months later."""
    billing = np.zeros(length)
    if terms.billing == "upfront":
        billing[0] = 1.0
    elif terms.billing == "milestones":
        for offset, share in terms.milestones:
            if offset < length:
                billing[offset] += share
    else:
        interval = INVOICE_INTERVAL[terms.billing]
        for start in range(0, terms.term_months, interval):
            if start < length:
                billing[start] += min(interval, terms.term_months - start) / terms.term_months
    lag = np.zeros(length)
    for share, delay in zip(terms.collection_curve, COLLECTION_CURVE_DAYS, strict=True):
        months = (terms.payment_terms_days + delay) / DAYS_PER_MONTH
        whole, part = int(months), months - int(months)
        for offset, weight in ((whole, 1.0 - part), (whole + 1, part)):
            if offset < length:
                lag[offset] += share * weight
    collection = np.convolve(billing, lag)[:length] * (1.0 - terms.bad_debt)
    recognition = np.zeros(length)
    recognition[: terms.term_months] = 1.0 / terms.term_months
    return Kernels(billing, collection, recognition)


@dataclass(frozen=True)
class CashGroups:
    """Cash-flow groups: 0 is the default terms, then one per deal type configured."""

    names: tuple[str | None, ...]
    terms: tuple[PaymentTerms, ...]

    @classmethod
    def from_settings(cls, settings: CashflowSettings) -> CashGroups:
        names = (None, *sorted(settings.deal_types))
        return cls(names, tuple(settings.terms_for(n) for n in names))

    def of(self, deal_types: list[str | None]) -> np.ndarray:
        index = {name: i for i, name in enumerate(self.names) if name is not None}
        return np.array([index.get(t, 0) for t in deal_types], dtype=np.intp)

    def longest_tail(self) -> int:
        """Months after booking that anything of a deal may still be billed, paid or recognised."""
        return max(
            max(t.term_months, max((m for m, _ in t.milestones), default=0))
            + int((t.payment_terms_days + COLLECTION_CURVE_DAYS[-1]) / DAYS_PER_MONTH)
            + 2
            for t in self.terms
        )


@dataclass(frozen=True)
class CashForecast:
    billings: np.ndarray  # (simulations, H)
    collections: np.ndarray
    recognized: np.ndarray


def cash_forecast(
    groups: CashGroups, simulated: np.ndarray, already_won: np.ndarray
) -> CashForecast:
    """Cash per simulation and forecast month.

    simulated: (simulations, groups, H) won amounts booked in forecast months 1..H.
    already_won: (groups, P) amounts booked P-1, ..., 1, 0 months before month 1 (the last
    column is month 1 itself, before as_of).
    """
    simulations, _, horizon = simulated.shape
    past = already_won.shape[1]
    out = {name: np.zeros((simulations, horizon)) for name in ("billing", "collection", "rev")}
    for g, terms in enumerate(groups.terms):
        k = kernels(terms, horizon + past)
        for name, kernel in (
            ("billing", k.billing),
            ("collection", k.collection),
            ("rev", k.recognition),
        ):
            # future[b, m] = kernel[m - b]: booking month b, cash month m (0-based).
            gap = np.arange(horizon)[None, :] - np.arange(horizon)[:, None]
            future = np.where(gap >= 0, kernel[np.clip(gap, 0, None)], 0.0)
            # Booked `past - 1 - j` months before month 1 reaches month m after m + past - 1 - j.
            lead = np.arange(horizon)[None, :] + (past - 1 - np.arange(past))[:, None]
            out[name] += simulated[:, g, :] @ future + already_won[g] @ kernel[lead]
    return CashForecast(out["billing"], out["collection"], out["rev"])
