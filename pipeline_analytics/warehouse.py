"""The DuckDB warehouse: connection settings and the core tables of the warehouse contract.

Every step (ingest, build, forecast, report) talks to the next through these tables; see
docs/metrics.md for each column.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb

from pipeline_analytics.config import WarehouseSettings
from pipeline_analytics.errors import InputError

DEFAULT_DB_PATH = Path("data/warehouse.duckdb")

CORE_SCHEMA = """
create sequence if not exists batch_id_seq start 1;
create sequence if not exists run_id_seq start 1;

create table if not exists ingest_batches (
    batch_id integer, source varchar, adapter varchar, object varchar, file_path varchar,
    file_sha256 varchar, rows_read bigint, rows_loaded bigint, rows_rejected bigint,
    snapshot_at timestamp, started_at timestamp, finished_at timestamp, status varchar,
    rows_excluded bigint
);
create table if not exists rejected_rows (
    batch_id integer, source_row bigint, column_name varchar, reason varchar, raw_record varchar
);
create table if not exists stages (
    pipeline varchar, stage varchar, stage_order integer, is_won boolean, is_lost boolean,
    default_probability double
);
create table if not exists deals (
    source varchar, deal_id varchar, name varchar, account varchar, owner varchar,
    pipeline varchar, lead_source varchar, deal_type varchar, stage varchar, stage_order integer,
    status varchar, amount double, currency varchar, amount_base double, probability double,
    created_at timestamp, closed_at timestamp, expected_close_date date, snapshot_at timestamp,
    batch_id integer, stage_changed_at timestamp, activity_count integer, segment varchar,
    amount_company_currency double
);
create table if not exists deal_changes (
    source varchar, deal_id varchar, field varchar, old_value varchar, new_value varchar,
    changed_at timestamp, batch_id integer
);
-- Deals whose stage events must be recomputed: filled in each file's transaction, emptied by the
-- one rebuild at the end of an ingest, so a crash in between is repaired by the next ingest.
create table if not exists pending_stage_events (source varchar, deal_id varchar);
create table if not exists stage_changes (
    source varchar, deal_id varchar, stage varchar, changed_at timestamp, batch_id integer,
    source_row bigint, origin varchar
);
create table if not exists deal_stage_events (
    source varchar, deal_id varchar, pipeline varchar, stage varchar, stage_order integer,
    entered_at timestamp, exited_at timestamp, stint integer, origin varchar
);
create table if not exists deal_snapshots (
    snapshot_at timestamp, source varchar, deal_id varchar, stage varchar, status varchar,
    amount_base double, expected_close_date date, owner varchar, batch_id integer,
    closed_at timestamp, stage_changed_at timestamp
);
create table if not exists source_stages (
    source varchar, pipeline varchar, stage varchar, sort_order integer, is_closed boolean,
    is_won boolean, default_probability double, batch_id integer
);
-- The CRM's names for the ids its deals exports carry (Salesforce User.csv and Account.csv):
-- object 'users' or 'accounts'; the newest file of an object replaces the source's earlier one.
create table if not exists crm_names (
    source varchar, object varchar, id varchar, name varchar, batch_id integer
);
-- Columns added after the first release: warehouses created before them gain them here.
alter table ingest_batches add column if not exists rows_excluded bigint;
alter table deals add column if not exists amount_company_currency double;
alter table stage_changes add column if not exists origin varchar;
alter table deal_snapshots add column if not exists closed_at timestamp;
alter table deal_snapshots add column if not exists stage_changed_at timestamp;
-- The configured settings that read a batch's file (store.read_settings): as JSON, and its sha256;
-- NULL for batches loaded before they were recorded.
alter table ingest_batches add column if not exists settings_fingerprint varchar;
alter table ingest_batches add column if not exists settings_json varchar;
-- How each stage's order, won or lost was decided (config, crm stage table, history...).
alter table stages add column if not exists basis varchar;
-- Every setting ingest inferred because the config left it out: one row per source and setting,
-- replaced when inferred again; `basis` says from what (a header, the values, the history...).
create table if not exists inferred_settings (
    source varchar, setting varchar, value varchar, basis varchar, batch_id integer
);
create table if not exists activities (
    source varchar, deal_id varchar, activity_type varchar, occurred_at timestamp, owner varchar
);
-- Values left out of a row that loaded (an event time after its file was loaded): the row's line,
-- column and value as read, and `flag`, the mart_data_quality check that reports it.
create table if not exists flagged_values (
    batch_id integer, source_row bigint, deal_id varchar, column_name varchar, value varchar,
    flag varchar
);
-- One row per lead (the newest export of a lead wins); converted_deal_id links it to `deals`.
create table if not exists leads (
    source varchar, lead_id varchar, name varchar, company varchar, owner varchar,
    lead_source varchar, status varchar, created_at timestamp, converted_at timestamp,
    converted_deal_id varchar, snapshot_at timestamp, batch_id integer
);
alter table deals add column if not exists lead_id varchar;
create table if not exists fx_rates (currency varchar, valid_from date, rate_to_base double);
create table if not exists build_params (
    as_of timestamp, lookback_days integer, currency varchar, built_at timestamp
);
create table if not exists runs (
    run_id integer, command varchar, started_at timestamp, finished_at timestamp, status varchar,
    files_loaded integer, rows_loaded bigint, rows_rejected bigint, forecast_run_id integer,
    report_path varchar, error varchar
);
-- One row per step of every recorded command, written as the step ends: 'succeeded', 'skipped'
-- (the data cannot support it; message says why) or 'failed' (message: the error's one line).
-- Steps after a failure that stopped the command have no row.
create table if not exists run_steps (
    run_id integer, step varchar, status varchar, message varchar, finished_at timestamp
);
create table if not exists forecast_runs (
    run_id integer, as_of timestamp, created_at timestamp, horizon_months integer,
    simulations integer, seed bigint, method varchar, config varchar
);
create table if not exists forecast_bookings (
    run_id integer, month date, component varchar, mean double, p10 double, p50 double,
    p90 double
);
create table if not exists forecast_deals (
    run_id integer, source varchar, deal_id varchar, win_probability double,
    expected_close_month date, expected_value_base double, stage varchar, stage_age_days double,
    amount_base double, deal_type varchar, basis varchar
);
alter table forecast_deals add column if not exists stage varchar;
alter table forecast_deals add column if not exists stage_age_days double;
alter table forecast_deals add column if not exists amount_base double;
alter table forecast_deals add column if not exists deal_type varchar;
alter table forecast_deals add column if not exists basis varchar;
alter table forecast_deals add column if not exists amount_imputed boolean;
create table if not exists forecast_periods (
    run_id integer, period varchar, period_start date, months_forecast integer,
    complete boolean, component varchar, mean double, p10 double, p50 double, p90 double
);
create table if not exists forecast_cashflow (
    run_id integer, month date, billings_mean double, billings_p10 double, billings_p50 double,
    billings_p90 double, collections_mean double, collections_p10 double,
    collections_p50 double, collections_p90 double, recognized_revenue double,
    recognized_revenue_p10 double, recognized_revenue_p50 double, recognized_revenue_p90 double
);
create table if not exists forecast_crosschecks (
    run_id integer, month date, method varchar, mean double, p10 double, p50 double, p90 double
);
create table if not exists forecast_changes (
    run_id integer, previous_run_id integer, source varchar, deal_id varchar, change varchar,
    stage varchar, previous_stage varchar, win_probability double,
    previous_win_probability double, expected_value_base double,
    previous_expected_value_base double, delta_base double
);
create table if not exists forecast_backtest (
    origin timestamp, horizon_months integer, method varchar, actual double,
    forecast_mean double, p10 double, p50 double, p90 double, simulations integer, seed bigint,
    created_at timestamp
);
create or replace view forecast_accuracy as
select
    method,
    horizon_months,
    count(*) as origins,
    sum(abs(actual - p50)) / nullif(sum(actual), 0) as wape,
    sum(p50 - actual) / nullif(sum(actual), 0) as bias,
    avg(greatest(0.1 * (actual - p10), -0.9 * (actual - p10))) as pinball_p10,
    avg(greatest(0.5 * (actual - p50), -0.5 * (actual - p50))) as pinball_p50,
    avg(greatest(0.9 * (actual - p90), -0.1 * (actual - p90))) as pinball_p90,
    avg(case when p10 is not null and p90 is not null
        then (actual between p10 and p90)::integer end) as coverage_p10_p90
from forecast_backtest
where actual is not null
group by method, horizon_months;
"""


def default_memory_limit() -> str:
    """Half the machine's RAM, at least 1 GB: DuckDB then spills to disk instead of failing."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return "2GB"
    return f"{max(1, int(total / 2 / 2**30))}GB"


# Connections (by id) inside a `transaction` block: a block within one joins it.
_IN_TRANSACTION: set[int] = set()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """The block's statements commit together, or none do: rolled back if the block raises.

    A block inside another one (on the same connection) is part of the outer block, which alone
    commits or rolls back: a reload writes a source's files, each a `transaction` of its own in a
    normal ingest, as one.
    """
    if id(con) in _IN_TRANSACTION:
        yield
        return
    con.execute("begin transaction")
    _IN_TRANSACTION.add(id(con))
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        _IN_TRANSACTION.discard(id(con))
    con.execute("commit")


def connect(db_path: Path, settings: WarehouseSettings | None = None) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the warehouse file with memory, temp and thread settings."""
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        # DuckDB writes `<warehouse>.wal` next to the file at the first commit: a folder that
        # cannot take it would fail mid-command, after the work.
        if not os.access(db_path.parent, os.W_OK | os.X_OK):
            raise _cannot_open(db_path, "its folder is read-only")
        con = duckdb.connect(str(db_path))
    except OSError as exc:
        raise _cannot_open(db_path, exc.strerror or str(exc)) from None
    except duckdb.IOException as exc:
        if "Could not set lock" in str(exc):
            raise  # another program has it open: runs.open_warehouse waits or names it
        raise _cannot_open(db_path, str(exc).splitlines()[0]) from None
    temp_dir = (settings.temp_directory if settings else None) or db_path.with_suffix(".tmp")
    con.execute(
        f"set memory_limit = '{(settings and settings.memory_limit) or default_memory_limit()}'"
    )
    con.execute(f"set temp_directory = '{temp_dir}'")
    if settings and settings.threads:
        con.execute(f"set threads = {int(settings.threads)}")
    # Inside Jupyter without ipywidgets DuckDB refuses to touch this setting (its bar is off there).
    with contextlib.suppress(duckdb.InvalidInputException):
        con.execute("set enable_progress_bar = false")
    con.execute("set TimeZone = 'UTC'")  # naive export timestamps are read as UTC
    con.execute(CORE_SCHEMA)
    return con


def _cannot_open(db_path: Path, reason: str) -> InputError:
    return InputError(
        f"cannot open or create the warehouse {db_path} ({reason}); make its folder writable, "
        "or point [warehouse] path in the config (or --db PATH) to a writable location"
    )


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [name]
    ).fetchall()
    return rows[0][0] > 0
