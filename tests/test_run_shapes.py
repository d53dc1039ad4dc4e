"""Every export shape seen in real CRM exports ends in a full report from `run` (issue 12).

Each shape (pipeline_analytics.sample.shapes) is run once through the command line with JSON logs.
A step the data cannot support is skipped, never failed: a warning in the log, a `run_steps` row
saying why, and the run ends `partial` with exit 0. An unexpected error in the forecast or the
backtest keeps what ingest and build committed, still writes the report and exits 1.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.cli import main
from pipeline_analytics.errors import StepSkipped
from pipeline_analytics.sample.shapes import SHAPES, render_shape, write_shape
from pipeline_analytics.status import describe
from tests.test_report import SECTION_KEYS, section_html, text_of

SIMULATIONS = 200  # the fewest the config allows: these tests check outcomes, not precision
RUN_ORDER = ["ingest", "build", "backtest", "forecast", "report"]
# Steps each shape's data cannot support (interface 1 of the contract): they must be
# skipped. MAY_SKIP: steps a shape may also skip (a backtest has nothing to score without closed
# deals or amounts). Every other step must succeed.
MUST_SKIP = {
    "five_deals": {"backtest"},  # under six months of deals
    "one_month": {"backtest"},
    "no_closed": {"forecast"},  # nothing won or lost to learn from
    "no_amounts": {"forecast"},
    "no_dates": {"backtest", "forecast"},  # nothing says when deals closed
}
MAY_SKIP = {"no_closed": {"backtest"}, "no_amounts": {"backtest"}}
# A first run's backtest notes how many month-ends it forecast (none were stored before).
FIRST_BACKTEST = re.compile(r"\d+ origins forecast, 0 kept")


StepRow = tuple[str, str, str | None]


def first_run_steps(steps: list[StepRow]) -> list[StepRow]:
    """run_steps rows with a first backtest's note read as FIRST_BACKTEST's pattern."""
    return [
        (step, status, FIRST_BACKTEST.pattern)
        if step == "backtest" and status == "succeeded" and FIRST_BACKTEST.fullmatch(note or "")
        else (step, status, note)
        for step, status, note in steps
    ]


def succeeded(step: str) -> StepRow:
    """A first run's step that succeeded, as first_run_steps reads it."""
    return (step, "succeeded", FIRST_BACKTEST.pattern if step == "backtest" else None)


# Issue 17 on every shape: targets (the quarter holding the shapes' as_of, the next, a rep's, a
# year) and a what-if, so P(hit), quota, capacity and the scenario table meet each shape too.
TARGETS_AND_SCENARIO = """
[[targets]]
period = "2026-Q4"
amount = 500000

[[targets]]
period = "2027-Q1"
amount = 500000

[[targets]]
period = "2027-Q1"
owner = "Avery Chen"
amount = 100000

[[targets]]
period = "2026"
amount = 2000000

[scenarios.better_win_rate]
win_rate_factor = 1.2
exclude_deals = ["no-such-deal"]
"""
# The report section that says why a step has no numbers.
SECTION_OF_STEP = {"backtest": "accuracy", "forecast": "forecast"}


@dataclass(frozen=True)
class ShapeRun:
    """What one `run` on a folder left behind: exit code, log events, run record, report."""

    folder: Path
    exit_code: int
    events: list[dict[str, object]]
    status: str
    error: str | None
    steps: list[tuple[str, str, str | None]]  # (step, status, message) in the order they ended

    @property
    def report(self) -> Path:
        return self.folder / "reports" / "latest.html"

    def step_status(self) -> dict[str, str]:
        return {step: status for step, status, _ in self.steps}

    def message(self, step: str) -> str | None:
        return next(message for name, _, message in self.steps if name == step)


def run_folder(config: Path) -> ShapeRun:
    """`run` on a shape folder with JSON logs captured; the warehouse read afterwards."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        exit_code = main(["--log-json", "--config", str(config), "run"])
    events = [json.loads(line) for line in err.getvalue().splitlines()]
    con = duckdb.connect(str(config.parent / "warehouse.duckdb"), read_only=True)
    try:
        ((status, error),) = con.execute("select status, error from runs").fetchall()
        steps = con.execute(
            "select step, status, message from run_steps order by finished_at, rowid"
        ).fetchall()
    finally:
        con.close()
    return ShapeRun(config.parent, exit_code, events, status, error, steps)


@pytest.fixture(scope="module")
def shape_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], ShapeRun]:
    """Each shape written and run once per test process, however many tests read it."""
    runs: dict[str, ShapeRun] = {}

    def get(name: str) -> ShapeRun:
        if name not in runs:
            folder = tmp_path_factory.mktemp(name)
            config = write_shape(name, folder, simulations=SIMULATIONS)
            with config.open("a", encoding="utf-8") as file:
                file.write(TARGETS_AND_SCENARIO)
            runs[name] = run_folder(config)
        return runs[name]

    return get


def report_sections(page: str) -> list[str]:
    return re.findall(r'<section id="([a-z]+)"', page)


@pytest.mark.slow
@pytest.mark.parametrize("name", SHAPES)
def test_run_writes_a_full_report_on_every_export_shape(
    shape_run: Callable[[str], ShapeRun], name: str
) -> None:
    run = shape_run(name)
    statuses = run.step_status()
    skipped = {step for step, status in statuses.items() if status == "skipped"}
    assert run.exit_code == 0, run.steps
    assert [step for step, _, _ in run.steps] == RUN_ORDER
    assert set(statuses.values()) <= {"succeeded", "skipped"}, run.steps
    assert (
        MUST_SKIP.get(name, set())
        <= skipped
        <= MUST_SKIP.get(name, set()) | MAY_SKIP.get(name, set())
    )
    assert (run.status, run.error) == ("partial" if skipped else "succeeded", None)
    # Each skip is one line saying why, logged as a warning as it happens.
    warnings = {
        e["step"]: e["message"]
        for e in run.events
        if e["event"] == "step_skipped" and e["level"] == "warning"
    }
    assert warnings.keys() == skipped
    for step in skipped:
        message = run.message(step)
        assert message and "\n" not in message
        assert message in str(warnings[step])
    assert not [e for e in run.events if e["level"] == "error"]
    assert report_sections(run.report.read_text(encoding="utf-8")) == SECTION_KEYS


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MUST_SKIP))
def test_the_report_says_why_a_step_was_skipped(
    shape_run: Callable[[str], ShapeRun], name: str
) -> None:
    run = shape_run(name)
    page = run.report.read_text(encoding="utf-8")
    for step in MUST_SKIP[name]:
        message = run.message(step)
        assert message, f"{step} was not skipped"
        why = message.removeprefix(f"{step} skipped: ").casefold()
        assert why in text_of(section_html(page, SECTION_OF_STEP[step])).casefold()


def test_shapes_hold_what_their_names_say() -> None:
    """The renderer's frames, checked column by column against each shape's promise."""
    exports = {name: render_shape(name) for name in SHAPES}
    base = render_shape("no_owner_source").deals  # same simulation as most shapes
    open_stage = ~exports["no_lost"].deals["deal_stage"].is_in(["Won", "Lost"])

    def stages(name: str) -> set[str]:
        return set(exports[name].deals["deal_stage"])

    assert exports["five_deals"].deals.height == 5
    assert {"Won", "Lost"} <= stages("five_deals") and stages("five_deals") - {"Won", "Lost"}
    assert stages("no_open") == {"Won", "Lost"}
    assert not stages("no_closed") & {"Won", "Lost"}
    assert "Lost" not in stages("no_lost") and open_stage.any()
    assert not {"close_value", "currency"} & set(exports["no_amounts"].deals.columns)
    blank = exports["open_amounts_blank"].deals
    is_open = ~blank["deal_stage"].is_in(["Won", "Lost"])
    assert blank.filter(is_open)["close_value"].null_count() == is_open.sum()
    assert set(blank.filter(blank["deal_stage"] == "Lost")["close_value"]) == {0.0}
    assert blank.filter(blank["deal_stage"] == "Won")["close_value"].min() > 0
    assert exports["no_history"].history is None
    one_month = exports["one_month"].deals
    assert (one_month["last_modified"].max() - one_month["engage_date"].min()).days <= 31
    assert one_month["engage_date"].dt.date().n_unique() > 1
    assert exports["one_day"].deals["engage_date"].dt.date().n_unique() == 1
    overdue = exports["all_overdue"].deals
    snapshot_day = overdue["last_modified"].max().date()
    open_dates = overdue.filter(~overdue["deal_stage"].is_in(["Won", "Lost"]))["close_date"]
    assert len(open_dates) > 0 and max(open_dates) < f"{snapshot_day:%Y-%m-%d}"
    assert not {"sales_agent", "lead_source"} & set(base.columns)
    missing = exports["missing_created"].deals
    not_engaged = missing["deal_stage"].is_in(["Prospecting", "Qualification"])
    assert missing.filter(not_engaged)["engage_date"].null_count() == not_engaged.sum() > 0
    assert missing.filter(~not_engaged)["engage_date"].null_count() == 0
    assert exports["missing_created"].history is not None
    undated = exports["no_dates"]
    assert undated.history is None and undated.deals.height == base.height
    assert not {"engage_date", "close_date", "last_modified"} & set(undated.deals.columns)


def test_configs_map_only_the_columns_each_export_has(tmp_path: Path) -> None:
    mapped: dict[str, dict[str, str]] = {}
    for name in ("no_amounts", "no_owner_source", "no_history"):
        config = write_shape(name, tmp_path / name, simulations=SIMULATIONS).read_text()
        header = (tmp_path / name / "deals.csv").read_text().splitlines()[0].split(",")
        columns = config.split("[sources.columns]")[1].split("[")[0]
        mapped[name] = dict(re.findall(r'^(\w+) = "(\w+)"$', columns, re.M))
        assert set(mapped[name].values()) <= set(header), name
        assert {"deal_id", "stage", "created_at"} <= mapped[name].keys(), name
    assert not {"owner", "lead_source"} & mapped["no_owner_source"].keys()
    assert not {"amount", "currency"} & mapped["no_amounts"].keys()
    assert {"owner", "lead_source", "amount"} <= mapped["no_history"].keys()
    assert not (tmp_path / "no_history" / "stage_history.csv").exists()
    history = '\nhistory = "stage_history.csv"'
    assert history not in (tmp_path / "no_history" / "pipeline.toml").read_text()
    assert history in (tmp_path / "no_amounts" / "pipeline.toml").read_text()


# A step failing or skipped, forced on a shape that otherwise runs through: what runs.py does with
# it, whatever the forecast and backtest do on their own.


def engine_fault(*args: object, **kwargs: object) -> int:
    raise RuntimeError("simulated engine fault\nsecond line of detail")


def not_enough_data(*args: object, **kwargs: object) -> int:
    raise StepSkipped("forecast skipped: the export holds no closed deal to learn from")


@contextlib.contextmanager
def patched(target: str, replacement: Callable[..., int]) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(target, replacement)
        yield


@pytest.fixture(scope="module")
def forced(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], ShapeRun]:
    """`run` on the no_history shape with the forecast or the backtest replaced by a fault."""
    runs: dict[tuple[str, str], ShapeRun] = {}
    replacements = {"fault": engine_fault, "skip": not_enough_data}

    def get(step: str, kind: str) -> ShapeRun:
        if (step, kind) not in runs:
            folder = tmp_path_factory.mktemp(f"{step}-{kind}")
            config = write_shape("no_history", folder, simulations=SIMULATIONS)
            with patched(f"pipeline_analytics.forecast.run_{step}", replacements[kind]):
                runs[(step, kind)] = run_folder(config)
        return runs[(step, kind)]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("failing", ["forecast", "backtest"])
def test_an_unexpected_error_in_forecast_or_backtest_still_writes_the_report(
    forced: Callable[[str, str], ShapeRun], failing: str
) -> None:
    run = forced(failing, "fault")
    message = "unexpected error: RuntimeError: simulated engine fault"
    assert run.exit_code == 1
    assert first_run_steps(run.steps) == [
        (step, "failed", message) if step == failing else succeeded(step) for step in RUN_ORDER
    ]
    assert (run.status, run.error) == ("failed", f"{failing}: {message}")
    # Ingest and build kept their work; the other of forecast and backtest did its own.
    con = duckdb.connect(str(run.folder / "warehouse.duckdb"), read_only=True)
    try:
        deals = con.execute("select count(*) from deals").fetchall()[0][0]
        built = con.execute("select count(*) from mart_kpis").fetchall()[0][0]
        forecasts = con.execute("select count(*) from forecast_runs").fetchall()[0][0]
        backtested = con.execute("select count(*) from forecast_backtest").fetchall()[0][0]
        report_path = con.execute("select report_path from runs").fetchall()[0][0]
    finally:
        con.close()
    assert deals == render_shape("no_history").deals.height
    assert built > 0
    assert (forecasts > 0, backtested > 0) == (failing == "backtest", failing == "forecast")
    assert report_path is not None and Path(report_path).is_file()
    assert report_sections(run.report.read_text(encoding="utf-8")) == SECTION_KEYS
    con = duckdb.connect(str(run.folder / "warehouse.duckdb"), read_only=True)
    try:
        status = describe(con, run.folder / "warehouse.duckdb")
    finally:
        con.close()
    assert f"table run_steps):\n  {failing} failed: {message}" in status
    # Logged as an error when it happens; the last word names the failed step and what still ran.
    failed = [e for e in run.events if e["event"] == "step_failed"]
    assert [(e["step"], e["level"]) for e in failed] == [(failing, "error")]
    last = run.events[-1]
    assert (last["event"], last["exit_code"]) == ("error", 1)
    went_on = "forecast, report" if failing == "backtest" else "report"
    assert f"{failing} failed: {message}; {went_on} still ran" in str(last["message"])


@pytest.mark.slow
def test_outside_run_an_error_in_the_forecast_stops_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only `run` goes on after a failed forecast: `forecast` alone has nothing left to do."""
    config = write_shape("no_history", tmp_path, simulations=SIMULATIONS)
    for command in ("ingest", "build"):
        assert main(["-q", "--config", str(config), command]) == 0
    monkeypatch.setattr("pipeline_analytics.forecast.run_forecast", engine_fault)
    assert main(["-q", "--config", str(config), "forecast"]) == 1
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        runs = con.execute("select command, status, error from runs order by run_id").fetchall()
        steps = con.execute("select run_id, step, status, message from run_steps").fetchall()
    finally:
        con.close()
    message = "unexpected error: RuntimeError: simulated engine fault"
    assert runs[-1] == ("forecast", "failed", f"forecast: {message}")
    assert steps[-1] == (3, "forecast", "failed", message)


@pytest.mark.slow
def test_a_run_without_new_files_keeps_the_backtest_and_says_so(tmp_path: Path) -> None:
    config = write_shape("no_owner_source", tmp_path, simulations=SIMULATIONS)
    first = run_folder(config)
    assert first.exit_code == 0 and first.step_status()["backtest"] == "succeeded"
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        stored = con.execute("select origin, created_at from forecast_backtest_origins")
        forecast_first = stored.fetchall()
    finally:
        con.close()
    assert main(["-q", "--config", str(config), "run"]) == 0
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        steps = con.execute(
            "select step, status, message from run_steps where run_id = 2 order by finished_at"
        ).fetchall()
        stored = con.execute("select origin, created_at from forecast_backtest_origins")
        forecast_second = stored.fetchall()
    finally:
        con.close()
    kept = f"0 origins forecast, {len(forecast_first)} kept"
    assert steps == [
        (step, "succeeded", kept if step == "backtest" else None) for step in RUN_ORDER
    ]
    assert sorted(forecast_second) == sorted(forecast_first) and forecast_first


def test_the_report_says_why_the_forecast_failed(
    forced: Callable[[str, str], ShapeRun],
) -> None:
    run = forced("forecast", "fault")
    page = run.report.read_text(encoding="utf-8")
    assert "simulated engine fault" in text_of(section_html(page, "forecast"))


@pytest.mark.slow
def test_a_skipped_forecast_makes_a_partial_run_that_exits_0(
    forced: Callable[[str, str], ShapeRun],
) -> None:
    run = forced("forecast", "skip")
    reason = "forecast skipped: the export holds no closed deal to learn from"
    assert run.exit_code == 0
    assert first_run_steps(run.steps) == [
        (step, "skipped", reason) if step == "forecast" else succeeded(step) for step in RUN_ORDER
    ]
    assert (run.status, run.error) == ("partial", None)
    skipped = [e for e in run.events if e["event"] == "step_skipped"]
    assert [(e["step"], e["level"]) for e in skipped] == [("forecast", "warning")]
    assert skipped[0]["message"] == reason  # the step's name not repeated before it
    finished = run.events[-1]
    assert (finished["event"], finished["status"], finished["exit_code"]) == (
        "run_finished",
        "partial",
        0,
    )
    assert finished["steps_skipped"] == ["forecast"]
    con = duckdb.connect(str(run.folder / "warehouse.duckdb"), read_only=True)
    try:
        status = describe(con, run.folder / "warehouse.duckdb")
    finally:
        con.close()
    assert f"Steps of the latest command (#1 run, table run_steps):\n  {reason}" in status
    assert report_sections(run.report.read_text(encoding="utf-8")) == SECTION_KEYS
