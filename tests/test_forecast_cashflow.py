"""Cash flow: billing schedules, payment terms, collection curve and bad debt, worked by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline_analytics.config import CashflowSettings, PaymentTerms, parse_config
from pipeline_analytics.errors import ConfigError
from pipeline_analytics.forecast.calendar import DAYS_PER_MONTH
from pipeline_analytics.forecast.cashflow import CashGroups, cash_forecast, kernels

MINIMAL = {
    "sources": [
        {
            "name": "crm",
            "adapter": "generic",
            "path": "deals.csv",
            "status": {"won": ["Won"], "lost": ["Lost"]},
        }
    ],
    "pipeline": {"stages": ["Open"], "currency": "USD"},
}


def config(**sections):
    return parse_config({**MINIMAL, **sections}, Path("p.toml"))


def test_billing_schedules():
    def billing(**terms) -> list[float]:
        return kernels(PaymentTerms(**terms), 14).billing.round(6).tolist()

    assert billing(billing="upfront", term_months=24) == [1.0] + [0.0] * 13
    # Annual over 18 months: 12/18 at booking, the remaining 6/18 a year later.
    expected = [0.0] * 14
    expected[0], expected[12] = 12 / 18, 6 / 18
    assert billing(billing="annual", term_months=18) == pytest.approx(expected)
    # Quarterly over 12 months: a quarter every 3 months.
    assert billing(billing="quarterly", term_months=12)[:10] == [0.25, 0, 0, 0.25, 0, 0] + [
        0.25,
        0,
        0,
        0.25,
    ]
    assert billing(billing="monthly", term_months=4)[:5] == [0.25, 0.25, 0.25, 0.25, 0.0]
    assert billing(billing="milestones", milestones=((0, 0.4), (2, 0.6)))[:3] == [0.4, 0, 0.6]


def test_collections_follow_terms_curve_and_bad_debt():
    terms = PaymentTerms(
        billing="upfront",
        payment_terms_days=30,
        collection_curve=(0.5, 0.5, 0.0, 0.0),
        bad_debt=0.1,
    )
    k = kernels(terms, 4)
    # Due 30 days after the invoice; half paid then (lag 30 days = 0.9856 months), half 30 days
    # later (60 days = 1.9713 months). Invoices spread over their month, so a lag of m months
    # lands (1 - frac(m)) in month floor(m) and frac(m) in the next. 10 % is never paid.
    first, second = 30 / DAYS_PER_MONTH, 60 / DAYS_PER_MONTH
    expected = np.zeros(4)
    expected[0] += 0.5 * (1 - first)
    expected[1] += 0.5 * first + 0.5 * (1 - (second - 1))
    expected[2] += 0.5 * (second - 1)
    assert k.collection == pytest.approx(expected * 0.9)
    assert k.collection.sum() == pytest.approx(0.9)
    # Revenue: ratably over the 12-month term.
    assert k.recognition == pytest.approx([1 / 12] * 4)


def test_cash_forecast_adds_simulated_and_already_won_deals():
    groups = CashGroups(
        (None, "Renewal"),
        (
            PaymentTerms(
                billing="upfront",
                term_months=2,
                payment_terms_days=0,
                collection_curve=(1.0, 0.0, 0.0, 0.0),
                bad_debt=0.0,
            ),
            PaymentTerms(
                billing="monthly",
                term_months=2,
                payment_terms_days=0,
                collection_curve=(1.0, 0.0, 0.0, 0.0),
                bad_debt=0.0,
            ),
        ),
    )
    # One simulation, 3 months: default deals book 100 in month 1, renewals 60 in month 2.
    simulated = np.zeros((1, 2, 3))
    simulated[0, 0, 0] = 100.0
    simulated[0, 1, 1] = 60.0
    # Already won: a renewal of 40 booked the month before month 1 (column -2; the last column
    # is month 1 itself).
    past = groups.longest_tail() + 1
    already = np.zeros((2, past))
    already[1, -2] = 40.0
    cash = cash_forecast(groups, simulated, already)
    # Billings: 100 upfront in month 1; renewal 60 billed 30 + 30 in months 2, 3; the old
    # renewal's second half (20) in month 1.
    assert cash.billings[0] == pytest.approx([120, 30, 30])
    # Net 0 paid at once: with invoices spread over the month, all of it that month.
    assert cash.collections[0] == pytest.approx([120, 30, 30])
    # Revenue over 2 months: 50 + 50 (default), 30 + 30 from month 2, the old renewal's 20 in
    # month 1.
    assert cash.recognized[0] == pytest.approx([70, 80, 30])


def test_cashflow_config_defaults_and_overrides():
    default = config().cashflow
    assert default == CashflowSettings()
    assert default.default.billing == "annual" and default.default.payment_terms_days == 30
    settings = config(
        cashflow={
            "billing": "quarterly",
            "bad_debt": 0.02,
            "deal_types": {"Renewal": {"payment_terms_days": 45}},
        }
    ).cashflow
    renewal = settings.terms_for("Renewal")
    assert (renewal.billing, renewal.payment_terms_days, renewal.bad_debt) == (
        "quarterly",
        45,
        0.02,
    )
    assert settings.terms_for("Other") == settings.default == settings.terms_for(None)
    assert CashGroups.from_settings(settings).of(["Renewal", None, "x"]).tolist() == [1, 0, 0]


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"billing": "weekly"}, "cashflow.billing"),
        ({"collection_curve": [0.5, 0.5]}, "cashflow.collection_curve"),
        ({"collection_curve": [0.5, 0.4, 0.0, 0.0]}, "cashflow.collection_curve"),
        ({"bad_debt": 1.0}, "cashflow.bad_debt"),
        ({"billing": "milestones"}, "cashflow.milestones"),
        ({"billing": "milestones", "milestones": [[0, 0.5]]}, "cashflow.milestones"),
        ({"deal_types": {"Renewal": {"terms": 3}}}, "cashflow.deal_types.Renewal.terms"),
        ({"net": 30}, "cashflow.net"),
    ],
)
def test_cashflow_config_errors_name_the_key(section, key):
    with pytest.raises(ConfigError, match=f"key '{key}'"):
        config(cashflow=section)


def test_forecast_config():
    forecast = config(forecast={"simulations": 500, "seed": 3}).forecast
    assert (forecast.horizon_months, forecast.simulations, forecast.seed, forecast.method) == (
        12,
        500,
        3,
        "engine",
    )
    assert config().forecast.seed is None
    with pytest.raises(ConfigError, match="key 'forecast.method'"):
        config(forecast={"method": "stage_weighted"})
    with pytest.raises(ConfigError, match="key 'forecast.simulations'"):
        config(forecast={"simulations": 10})
