"""The forecast-facing report on hand-built forecast tables: the headline is the method the
backtest chose and the page says why; open deals per basis, imputed and missing amounts; skipped
and failed steps instead of stale numbers; the next quarter in the last two weeks of one; no dash
inside a sentence.

The warehouse is tests/test_report.py's (as_of 2026-03-14 12:00, Q1 2026 to date, forecast run 2
of 14:00 by the engine); each test adds or changes forecast rows by hand.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.report import render_report
from pipeline_analytics.report.forecast_data import (
    ForecastRun,
    headline_details,
    headline_reason,
    method_name,
)
from pipeline_analytics.report.formatting import Formatter
from pipeline_analytics.report.i18n import translator
from pipeline_analytics.report.model import ReportContext
from pipeline_analytics.report.sections.summary import (
    Quarter,
    is_closing,
    next_quarter,
    quarter_reading,
)
from tests.test_report import (
    AS_OF,
    kpi_values,
    make_warehouse,
    rebuild_models_reading,
    section_html,
    text_of,
)

EN = translator("en")
FMT = Formatter("USD")

# Run 3, made after run 2, chose the run rate: its backtest record and its recalibrated band.
CHOSEN_CONFIG = {
    "headline": {
        "method": "run_rate",
        "reason": "run_rate has the lowest WAPE at every horizon",
        "reason_code": "baseline_best",
        "origins": 6,
        "wape": {
            "engine": {"1": 0.25, "2": 0.30},
            "run_rate": {"1": 0.10, "2": 0.20},
            "seasonal_naive": {"1": 0.30},
        },
        "band_scale": 1.25,
        "coverage_before": 0.6,
        "coverage_after": 0.8,
        "scored_forecasts": 18,
    }
}


def add_chosen_run(con: duckdb.DuckDBPyConnection, config: dict = CHOSEN_CONFIG) -> None:
    """Run 3: run 2's engine components and total, plus the run rate's `headline` months
    (means 40,000 + 60,000 + 70,000 = 170,000) and its Q1 2026 total (P50 189,000)."""
    con.execute(
        "insert into forecast_runs (run_id, as_of, created_at, horizon_months, simulations, seed, "
        "method, config) values (3, ?, timestamp '2026-03-14 15:00:00', 3, 5000, 7, ?, ?)",
        [AS_OF, config["headline"]["method"], json.dumps(config)],
    )
    for table in ("forecast_bookings", "forecast_deals", "forecast_crosschecks"):
        con.execute(
            f"insert into {table} by name select * replace (3 as run_id) from {table} "
            "where run_id = 2"
        )
    con.execute(
        "insert into forecast_cashflow by name select * replace (3 as run_id) "
        "from forecast_cashflow where run_id = 2"
    )
    con.execute(
        """
        insert into forecast_bookings (run_id, month, component, mean, p10, p50, p90) values
            (3, date '2026-03-01', 'headline', 40000, 30000, 39000, 50000),
            (3, date '2026-04-01', 'headline', 60000, 45000, 58000, 80000),
            (3, date '2026-05-01', 'headline', 70000, 50000, 69000, 95000)
        """
    )
    con.execute(
        """
        insert into forecast_periods (run_id, period, period_start, months_forecast, complete,
            component, mean, p10, p50, p90) values
            (3, 'quarter', date '2026-01-01', 1, true, 'total', 205000, 185000, 203000, 230000),
            (3, 'quarter', date '2026-01-01', 1, true, 'headline', 190000, 180000, 189000,
             200000)
        """
    )


def render(con: duckdb.DuckDBPyConnection, folder: Path, language: str = "en") -> str:
    path = render_report(con, output_dir=folder, language=language, targets={(2026, 1): 250000.0})
    return path.read_text(encoding="utf-8")


def set_config(con: duckdb.DuckDBPyConnection, run_id: int, config: dict) -> None:
    con.execute(
        "update forecast_runs set config = ? where run_id = ?", [json.dumps(config), run_id]
    )


def create_run_steps(con: duckdb.DuckDBPyConnection) -> None:
    """Contract 2's table, made here when this branch's schema lacks it."""
    con.execute(
        "create table if not exists run_steps (run_id integer, step varchar, status varchar, "
        "message varchar, finished_at timestamp)"
    )


def add_step(
    con: duckdb.DuckDBPyConnection, run_id: int, step: str, status: str, message: str, at: str
) -> None:
    create_run_steps(con)
    con.execute(
        "insert into run_steps values (?, ?, ?, ?, ?::timestamp)",
        [run_id, step, status, message, at],
    )


def card_titles(summary: str) -> list[str]:
    return [text_of(t) for t in re.findall(r'<div class="card-title">(.*?)</div>', summary)]


def summary_sentences(summary: str) -> list[str]:
    """The summary's prose: its intro, and each card's reading and hint."""
    found = re.findall(
        r'<p class="(?:intro|reading)">(.*?)</p>|<div class="card-hint">(.*?)</div>', summary, re.S
    )
    return [text_of(a or b) for a, b in found]


# --- 1. the headline is the chosen method, and the page says why ---------------------------------


@pytest.fixture(scope="module")
def chosen(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("chosen")
    con = make_warehouse(folder / "w.duckdb")
    add_chosen_run(con)
    con.execute(
        """
        insert into forecast_backtest (origin, horizon_months, method, actual, forecast_mean,
            p10, p50, p90)
        values
            (timestamp '2025-10-31', 1, 'combination', 100.0, 95.0, null, 95.0, null),
            (timestamp '2025-11-30', 1, 'combination', 200.0, 190.0, null, 190.0, null)
        """
    )
    return render(con, folder / "en"), render(con, folder / "it", "it")


@pytest.mark.slow
def test_summary_headlines_the_chosen_methods_quarter_not_the_engines(chosen) -> None:
    page, _ = chosen
    summary = section_html(page, "summary")
    shown = kpi_values(summary)
    assert float(shown["quarter_bookings_p50"]) == 189000.0  # the run rate's, not 203,000
    assert float(shown["quarter_bookings_p10"]) == 180000.0
    text = text_of(summary)
    # 165,000 booked from January to March 14; 189 / 250 = 75.6%.
    assert "$165K booked so far, $189K expected by the end of the quarter." in text
    assert "That is 76% of the target. The target is above P90: unlikely to be reached." in text
    assert "Run rate leads: it forecast better than the engine in the backtest." in text


@pytest.mark.slow
def test_forecast_section_draws_the_headline_and_explains_the_choice(chosen) -> None:
    page, _ = chosen
    forecast = section_html(page, "forecast")
    text = text_of(forecast)
    assert "Forecast run 3 of Mar 14, 2026, method Run rate." in text
    assert (
        "Run rate leads: it forecast better than the engine in the backtest. The backtest "
        "forecast every method from 6 past month-ends and compared the result with what was "
        "then booked. One month ahead, the typical error (WAPE) was 10.0% for Run rate and "
        "25.0% for the engine. The P10–P90 band is widened ×1.25 from the backtest's errors: it "
        "held the actual bookings 60% of the time as simulated, 80% once widened." in text
    )
    assert "Mar 2026 $40,000 $30,000 $39,000 $50,000" in text  # the headline's months
    assert "Mar 2026 $55,000" not in text  # not the engine's total
    assert (
        "These are the engine's components: they show where bookings would come from, while "
        "the headline above is Run rate's forecast." in text
    )
    assert 'id="chart-forecast-components"' in forecast
    # Beside the headline (170,000): the engine's own 225,000 (+32.4%) and the CRM-weighted
    # 230,000 (+35.3%); the run rate's own cross-check is the headline, so not repeated.
    assert (
        "Run rate $170,000 — Engine $225,000 +32.4% CRM-weighted pipeline $230,000 +35.3%" in text
    )
    assert "Run rate $150,000" not in text
    assert "Against the headline" in text
    assert '"name":"Engine"' in forecast  # the engine's total, dashed in the chart


@pytest.mark.slow
def test_accuracy_marks_the_leader_and_shows_both_coverages(chosen) -> None:
    page, _ = chosen
    text = text_of(section_html(page, "accuracy"))
    assert (
        "Run rate leads: it forecast better than the engine in the backtest. P10–P90 coverage "
        "of Run rate in the backtest: 60% as simulated, 80% recalibrated (band scaled ×1.25)."
        in text
    )
    assert "1 Run rate headline 2 26.7%" in text
    assert "1 Engine 2 6.7%" in text  # the engine is not marked
    # The combination's rows: |100 - 95| + |200 - 190| over 300 = 5.0%.
    assert "1 Median of the engine and the two best simple methods 2 5.0%" in text


@pytest.mark.slow
def test_method_says_how_the_headline_is_chosen(chosen) -> None:
    page, _ = chosen
    text = text_of(section_html(page, "method"))
    assert "the headline is the engine when it had the lowest error at every horizon" in text
    assert "(method Engine)" in text  # the simulation is the engine's, whatever leads


@pytest.mark.slow
def test_italian_headline_reason_and_record(chosen) -> None:
    _, page = chosen
    assert (
        "In testa c'è Ritmo recente: nella verifica retrospettiva ha previsto meglio del motore."
        in text_of(section_html(page, "summary"))
    )
    assert (
        "A un mese, l'errore tipico (WAPE) è stato del 10,0% per Ritmo recente e del 25,0% per "
        "il motore." in text_of(section_html(page, "forecast"))
    )
    assert "Copertura P10–P90 di Ritmo recente nella verifica retrospettiva: 60% così come " in (
        text_of(section_html(page, "accuracy"))
    )


@pytest.mark.slow
def test_accuracy_draws_the_leaders_backtest_path(chosen) -> None:
    page, _ = chosen
    accuracy = section_html(page, "accuracy")
    assert '"name":"Run rate P50"' in accuracy
    assert '"name":"Engine P50"' not in accuracy


@pytest.mark.slow
def test_an_engine_run_from_before_the_choice_warns_when_the_backtest_disagrees(
    tmp_path: Path,
) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")  # run 2: the engine, with no headline choice
    unbacked = (
        "The backtest does not back this number: Run rate forecast better than the engine at "
        "every horizon. The next forecast run will headline the method that forecast best."
    )
    page = render(con, tmp_path)
    assert unbacked not in page  # the engine's WAPE, 6.7%, beats the run rate's 26.7%
    # The run rate now hits every actual: WAPE 0 against the engine's 6.7%.
    con.execute("update forecast_backtest set p50 = actual where method = 'run_rate'")
    page = render(con, tmp_path)
    assert unbacked in text_of(section_html(page, "forecast"))
    assert unbacked in text_of(section_html(page, "summary"))


def run_with(method: str, headline: dict | None) -> ForecastRun:
    config = {} if headline is None else {"headline": {"method": method, **headline}}
    return ForecastRun(1, AS_OF, method, 5000, config, frozenset({"total", "headline"}))


@pytest.mark.parametrize(
    ("method", "code", "expected"),
    [
        ("engine", "engine_best", "The engine leads: it forecast best in the backtest."),
        (
            "combination",
            "combination_best",
            "Median of the engine and the two best simple methods leads: it forecast better "
            "than the engine and each simple method alone in the backtest.",
        ),
        (
            "engine",
            "too_few_origins",
            "The engine leads by default: the backtest has too few month-ends to choose a "
            "method by its record.",
        ),
        (
            "engine",
            "no_backtest",
            "The engine leads by default: there is no backtest yet to choose a method by its "
            "record.",
        ),
        (
            "seasonal_naive",
            "baseline_best",
            "Seasonal naive leads: it forecast better than the engine in the backtest.",
        ),
    ],
)
def test_every_reason_code_reads_as_a_sentence(method: str, code: str, expected: str) -> None:
    assert headline_reason(run_with(method, {"reason_code": code}), EN) == expected


def test_record_when_the_engine_leads_and_a_narrowed_band() -> None:
    run = run_with(
        "engine",
        {
            "reason_code": "engine_best",
            "wape": {"engine": {"2": 0.1}, "run_rate": {"2": 0.2}, "seasonal_naive": {"2": 0.15}},
            "band_scale": 0.8,
            "coverage_before": 0.95,
            "coverage_after": 0.8,
        },
    )
    assert headline_details(run, EN, FMT) == [
        "2 months ahead, the typical error (WAPE) was 10.0% for the engine and 15.0% for the "
        "best other method, Seasonal naive.",
        "The P10–P90 band is narrowed ×0.80 from the backtest's errors: it held the actual "
        "bookings 95% of the time as simulated, 80% once narrowed.",
    ]
    assert run.engine_leads


def test_a_run_before_the_choice_says_nothing_about_it() -> None:
    run = ForecastRun(1, AS_OF, "engine", 5000, {}, frozenset({"total"}))
    assert headline_reason(run, EN) == "" and headline_details(run, EN, FMT) == []
    assert run.headline_component == "total" and run.engine_leads
    assert method_name("combination", translator("it")) == (
        "Mediana del motore e dei due metodi semplici migliori"
    )


# --- 2. basis and imputation ----------------------------------------------------------------------


@pytest.mark.slow
def test_open_deals_per_basis_imputed_and_missing_amounts(tmp_path: Path) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")
    set_config(
        con,
        2,
        {
            "open_deals_by_basis": {"win_rate": 1, "crm": 2, "deal_age": 5, "none": 0},
            "open_deals_amount_imputed": 3,
            "open_deals_without_amount": 2,
            "open_pipeline_unforecastable": None,
        },
    )
    # An older warehouse has no amount_imputed column; the forecast's amount is the one used.
    con.execute("alter table forecast_deals add column if not exists amount_imputed boolean")
    con.execute(
        "update forecast_deals set amount_imputed = true, amount_base = 45000 "
        "where run_id = 2 and deal_id = 'd2'"
    )
    page = render(con, tmp_path)
    forecast = section_html(page, "forecast")
    text = text_of(forecast)
    assert (
        "How the open deals were forecast: 5 from what became of past deals of the same age "
        "(won, lost or still open), their stage having no history; 2 from the CRM's or the "
        "configured probability, timed by the usual sales cycle; 1 from the overall historical "
        "win rate and sales cycle." in text
    )
    assert (
        "3 open deals had no amount and were given the median won amount of similar deals "
        "(marked imputed among the biggest deals)." in text
    )
    assert "2 open deals have no amount and add nothing to the forecast." in text
    assert "cannot be forecast" not in text
    rows = re.findall(r"<tr>(.*?)</tr>", forecast.split("biggest deals behind it")[1], re.S)
    gamma = next(text_of(r) for r in rows if "Gamma new" in r)
    assert gamma.startswith("Gamma new Gamma Carol Proposal 45,000 imputed 50%")
    assert all("imputed" not in text_of(r) for r in rows if "Gamma new" not in r)
    method = text_of(section_html(page, "method"))
    assert (
        "This export has no stage history, so no open deal could be forecast from its stage's "
        "record: the current stage acts only through the probabilities" in method
    )


@pytest.mark.slow
def test_stage_history_keeps_the_method_section_quiet_about_it(tmp_path: Path) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")  # run 2's deals are on basis stage and crm
    method = text_of(section_html(render(con, tmp_path), "method"))
    assert "no stage history" not in method
    assert "best-supported of four models" in method


@pytest.mark.slow
def test_an_unforecastable_open_pipeline_says_why(tmp_path: Path) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")
    set_config(
        con,
        2,
        {
            "open_deals_by_basis": {"none": 4},
            "open_pipeline_unforecastable": "no deal in the export is closed yet",
        },
    )
    text = text_of(section_html(render(con, tmp_path), "forecast"))
    assert "The open pipeline cannot be forecast: no deal in the export is closed yet." in text
    assert (
        "How the open deals were forecast: 4 left out: no deal has closed yet, so there is no "
        "win rate to learn from." in text
    )


def test_basis_in_italian(tmp_path: Path) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")
    set_config(con, 2, {"open_deals_by_basis": {"win_rate": 3}, "open_deals_amount_imputed": 2})
    text = text_of(section_html(render(con, tmp_path, "it"), "forecast"))
    assert "3 dal tasso di successo storico complessivo e dal ciclo di vendita." in text
    assert "2 trattative aperte non avevano importo e hanno ricevuto l'importo vinto mediano" in (
        text
    )


# --- 3. skipped and failed steps ------------------------------------------------------------------

SKIPPED = "forecast skipped: no deal in the export is closed, so there is no win rate to learn from"


def test_a_newer_skipped_forecast_replaces_the_stale_run(tmp_path: Path) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")
    add_step(con, 7, "forecast", "skipped", SKIPPED, "2026-03-14 16:00:00")  # run 2: 14:00
    page = render(con, tmp_path)
    message = (
        "The forecast was skipped in the latest run: no deal in the export is closed, so there "
        "is no win rate to learn from."
    )
    forecast = text_of(section_html(page, "forecast"))
    assert message in forecast
    assert "The stored forecast, run 2 of Mar 14, 2026, predates it and is not shown." in forecast
    assert "Forecast run 2" not in forecast and "$135,000" not in forecast
    assert 'id="chart-forecast"' in page  # the history is still drawn
    assert message in text_of(section_html(page, "cashflow"))
    summary = section_html(page, "summary")
    assert text_of(summary).count(message) == 2  # the quarter card and the cash card
    shown = kpi_values(summary)
    assert shown["quarter_bookings"] == "" and shown["cash_next_90_days"] == ""
    # The backtest step did not give up: its scores stay.
    assert "The engine has the lowest WAPE" in text_of(section_html(page, "accuracy"))


@pytest.mark.slow
def test_an_older_skipped_or_a_later_succeeded_step_leaves_the_run(tmp_path: Path) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")
    add_step(con, 5, "forecast", "skipped", SKIPPED, "2026-03-14 13:30:00")  # before run 2
    page = render(con, tmp_path)
    assert "Forecast run 2 of Mar 14, 2026" in text_of(section_html(page, "forecast"))
    add_step(con, 6, "forecast", "skipped", SKIPPED, "2026-03-14 16:00:00")
    add_step(con, 7, "forecast", "succeeded", "", "2026-03-14 17:00:00")
    page = render(con, tmp_path)
    assert "Forecast run 2 of Mar 14, 2026" in text_of(section_html(page, "forecast"))
    assert "skipped" not in text_of(section_html(page, "forecast"))


@pytest.mark.slow
def test_a_failed_forecast_without_any_stored_run(tmp_path: Path) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")
    for table in ("forecast_runs", "forecast_bookings", "forecast_cashflow"):
        con.execute(f"delete from {table}")
    add_step(
        con,
        7,
        "forecast",
        "failed",
        "unexpected error: IndexError: index 0 is out of bounds for axis 0 with size 0",
        "2026-03-14 16:00:00",
    )
    page = render(con, tmp_path)
    message = (
        "The forecast failed in the latest run: unexpected error: IndexError: index 0 is out of "
        "bounds for axis 0 with size 0."
    )
    for key in ("forecast", "cashflow", "summary"):
        text = text_of(section_html(page, key))
        assert message in text, key
        assert "no forecast run is stored" not in text, key
        assert "predates" not in text, key


@pytest.mark.slow
def test_a_skipped_backtest_replaces_the_older_scores(tmp_path: Path) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")
    con.execute("update forecast_backtest set created_at = timestamp '2026-03-14 10:00:00'")
    add_step(
        con,
        7,
        "backtest",
        "skipped",
        "backtest skipped: it needs 6 months of deals before a month-end and a complete month "
        "after it; the data covers 3 months",
        "2026-03-14 16:00:00",
    )
    text = text_of(section_html(render(con, tmp_path), "accuracy"))
    assert (
        "The backtest was skipped in the latest run: it needs 6 months of deals before a "
        "month-end and a complete month after it; the data covers 3 months. The stored backtest "
        "predates it and is not shown." in text
    )
    assert "WAPE" not in text


def test_a_skipped_backtest_without_any_backtest_in_italian(tmp_path: Path) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")
    con.execute("delete from forecast_backtest")
    add_step(con, 7, "backtest", "skipped", "backtest skipped: too little history", "2026-03-14")
    text = text_of(section_html(render(con, tmp_path, "it"), "accuracy"))
    assert "Nell'ultima esecuzione la verifica retrospettiva è stata saltata: too little " in text
    assert "non ha righe" not in text  # not "forecast_backtest has no rows"


def test_a_backtest_older_than_its_skipped_step_is_not_hidden_by_an_earlier_one(
    tmp_path: Path,
) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")
    con.execute("update forecast_backtest set created_at = timestamp '2026-03-14 10:00:00'")
    add_step(con, 3, "backtest", "skipped", "backtest skipped: too little history", "2026-03-13")
    text = text_of(section_html(render(con, tmp_path), "accuracy"))
    assert "The engine has the lowest WAPE at 1 of 1 horizons." in text


@pytest.mark.slow
def test_a_cash_flow_without_amounts_says_so(tmp_path: Path) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")
    con.execute(
        """
        update forecast_cashflow set billings_mean = 0, billings_p10 = 0, billings_p50 = 0,
            billings_p90 = 0, collections_mean = 0, collections_p10 = 0, collections_p50 = 0,
            collections_p90 = 0, recognized_revenue = 0, recognized_revenue_p10 = 0,
            recognized_revenue_p90 = 0
        where run_id = 2
        """
    )
    page = render(con, tmp_path)
    message = "The forecast has no cash flow: no open or won deal in it has an amount."
    assert message in text_of(section_html(page, "cashflow"))
    assert 'id="chart-cashflow"' not in page
    summary = section_html(page, "summary")
    assert message in text_of(summary)
    assert kpi_values(summary)["cash_next_90_days"] == ""


# --- 4. the last two weeks of a quarter; no dash in a sentence ------------------------------------

Q1_2026 = Quarter(date(2026, 1, 1), datetime(2026, 3, 31, 23, 59), 2026, 1, True)


@pytest.mark.parametrize(
    ("as_of", "closing"),
    [
        (datetime(2026, 3, 17, 23, 59, 59), False),  # 14 days and a second remain
        (datetime(2026, 3, 18, 0, 0), True),  # 14 days remain
        (datetime(2026, 3, 31, 12, 0), True),  # the last day
        (datetime(2026, 2, 14, 12, 0), False),
    ],
)
def test_the_last_two_weeks_of_a_quarter(as_of: datetime, closing: bool) -> None:
    assert is_closing(Q1_2026, as_of) is closing


def test_the_next_quarter_of_a_fiscal_year_end() -> None:
    # Fiscal year from April: January to March 2026 is Q4 FY2026; next is Q1 FY2027.
    q4 = Quarter(date(2026, 1, 1), datetime(2026, 3, 31), 2026, 4, False)
    following = next_quarter(q4)
    assert (following.start, following.fiscal_year, following.fiscal_quarter) == (
        date(2026, 4, 1),
        2027,
        1,
    )
    assert following.end.date() == date(2026, 6, 30)
    assert next_quarter(Q1_2026).fiscal_quarter == 2
    assert next_quarter(following).start == date(2026, 7, 1)


def closing_warehouse(path: Path, as_of: str) -> duckdb.DuckDBPyConnection:
    """Run 2 with Q2 2026's simulated total (P10 100,000, P50 150,000, P90 210,000)."""
    con = make_warehouse(path)
    con.execute("update build_params set as_of = ?::timestamp", [as_of])
    con.execute("delete from forecast_periods where period_start = date '2026-04-01'")
    con.execute(
        """
        insert into forecast_periods (run_id, period, period_start, months_forecast, complete,
            component, mean, p10, p50, p90)
        values (2, 'quarter', date '2026-04-01', 3, true, 'total', 160000, 100000, 150000, 210000)
        """
    )
    return con


@pytest.mark.slow
def test_in_the_last_two_weeks_the_summary_leads_with_the_next_quarter(tmp_path: Path) -> None:
    con = closing_warehouse(tmp_path / "w.duckdb", "2026-03-18 00:00:00")
    summary = section_html(render(con, tmp_path), "summary")
    assert card_titles(summary)[:2] == ["Bookings forecast, Q2 2026", "Bookings forecast, Q1 2026"]
    shown = kpi_values(summary)
    assert float(shown["next_quarter_bookings_p50"]) == 150000.0
    assert float(shown["next_quarter_bookings_p10"]) == 100000.0
    assert float(shown["quarter_bookings_p50"]) == 203000.0  # the closing quarter, still shown
    text = text_of(summary)
    assert "Q1 2026 ends within two weeks, so the forecast leads with Q2 2026." in text
    assert "$150K expected in Q2 2026. No target is set for Q2 2026." in text
    # Against the closing quarter's expected finish: 150 / 203 - 1 = -26%.
    assert "P50 of the simulated quarter totals; Q1 2026 is expected to close at $203K." in text
    assert "▼ 26%" in text


@pytest.mark.slow
def test_the_reason_is_told_once_on_the_leading_card(tmp_path: Path) -> None:
    con = closing_warehouse(tmp_path / "w.duckdb", "2026-03-18 00:00:00")
    set_config(con, 2, {"headline": {"method": "engine", "reason_code": "engine_best"}})
    con.execute(
        "insert into forecast_bookings by name select * replace ('headline' as "
        "component) from forecast_bookings where run_id = 2 and component = 'total'"
    )
    con.execute(
        "insert into forecast_periods by name select * replace ('headline' as "
        "component) from forecast_periods where run_id = 2 and component = 'total'"
    )
    summary = section_html(render(con, tmp_path), "summary")
    readings = [text_of(r) for r in re.findall(r'<p class="reading">(.*?)</p>', summary, re.S)]
    reason = "The engine leads: it forecast best in the backtest."
    assert reason in readings[0]  # Q2 2026, the leading card
    assert reason not in readings[1]  # Q1 2026, closing


@pytest.mark.slow
def test_a_next_quarter_the_run_covers_in_part_gets_no_change_arrow(tmp_path: Path) -> None:
    con = make_warehouse(tmp_path / "w.duckdb")
    add_chosen_run(con)  # headline months March to May, no simulated Q2 total
    con.execute("update build_params set as_of = timestamp '2026-03-20 09:00:00'")
    summary = section_html(render(con, tmp_path), "summary")
    q2_card = text_of(summary).split("Bookings forecast, Q1 2026")[0]
    # April and May only, 60,000 + 70,000: against Q1's expected 189,000 it would read ▼ 31%.
    assert "$130K expected in Q2 2026." in q2_card
    assert "the rest is missing" in q2_card
    assert "▼" not in q2_card and "▲" not in q2_card


@pytest.mark.slow
def test_a_day_earlier_the_closing_quarter_leads_alone(tmp_path: Path) -> None:
    con = closing_warehouse(tmp_path / "w.duckdb", "2026-03-17 23:59:59")
    summary = section_html(render(con, tmp_path), "summary")
    titles = card_titles(summary)
    assert titles[0] == "Bookings forecast, Q1 2026"
    assert "Bookings forecast, Q2 2026" not in titles
    assert "next_quarter_bookings_p50" not in kpi_values(summary)
    assert "ends within two weeks" not in text_of(summary)


@pytest.mark.slow
def test_the_next_quarter_in_italian(tmp_path: Path) -> None:
    con = closing_warehouse(tmp_path / "w.duckdb", "2026-03-20 09:00:00")
    text = text_of(section_html(render(con, tmp_path, "it"), "summary"))
    assert "T1 2026 finisce entro due settimane, quindi la previsione parte da T2 2026." in text
    assert "150.000 USD attesi in T2 2026." in text


@pytest.mark.slow
def test_missing_quarters_leave_no_dash_in_any_summary_sentence(tmp_path: Path) -> None:
    """No quarter before the current one, no simulated quarter totals, a run whose months start
    in April, and as_of in the last two weeks: Q1 has no forecast, Q2 only two of its months."""
    con = make_warehouse(tmp_path / "w.duckdb")
    con.execute("update build_params set as_of = timestamp '2026-03-20 09:00:00'")
    con.execute("delete from mart_kpis_by_period where period_start < date '2026-01-01'")
    rebuild_models_reading(con, "mart_kpis_by_period")  # mart_kpi_changes loses them too
    con.execute("delete from forecast_periods")
    con.execute("delete from forecast_bookings where month < date '2026-04-01'")
    summary = section_html(render(con, tmp_path), "summary")
    sentences = summary_sentences(summary)
    assert len(sentences) >= 7  # the intro, and readings and hints of the cards
    assert not [s for s in sentences if "—" in s], sentences
    text = text_of(summary)
    assert (
        "Q1 2026 to date (Jan 1, 2026 to Mar 14, 2026); the data has no quarter before it to "
        "compare with." in text
    )
    assert "The forecast has no figure for Q1 2026." in text
    # Q2: run 2's April and May totals, 90,000 + 80,000, and no June.
    assert float(kpi_values(summary)["next_quarter_bookings_mean"]) == 170000.0
    assert (
        "$170K expected in Q2 2026. No target is set for Q2 2026. The forecast horizon ends "
        "before the quarter does: the rest is missing." in text
    )


def test_quarter_reading_without_an_expected_figure_keeps_whole_sentences() -> None:
    ctx = ReportContext(AS_OF, 365, "USD", None, FMT, EN)
    reading = quarter_reading(ctx, {"mean": None}, 165000.0, 250000.0, "Q1 2026")
    assert reading == (
        "$165K booked so far; the forecast has no figure for the rest of the quarter. The target "
        "for Q1 2026 is $250K."
    )
    assert "—" not in quarter_reading(ctx, {"mean": None}, 0.0, None, "Q2 2026", upcoming=True)
