"""Writing staged exports into the warehouse, one transaction per file.

Adapters produce canonical temp tables (see `staging`): `staged_deals`, `staged_history`,
`staged_changes`, `staged_stages`. This module records the batch, the rejected rows, the event
times after the file was loaded that rows lost (`flagged_values`), the deals
(newest snapshot wins; a deal deleted in the CRM leaves), the snapshot history, stage changes,
amount and close-date edits, and the stage events of every deal the file touched. If anything
fails, the transaction rolls back and the warehouse is exactly as it was.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from pipeline_analytics.config import Config, Source
from pipeline_analytics.errors import ConfigError, InputError
from pipeline_analytics.ingest import inference
from pipeline_analytics.ingest.columns import HeaderIndex
from pipeline_analytics.ingest.files import (
    FileFingerprint,
    LoadedFile,
    drop_loaded,
    fingerprint,
    load_file,
)
from pipeline_analytics.ingest.locale import Locale, detect_locale, number_sql
from pipeline_analytics.ingest.staging import text_of
from pipeline_analytics.sql_files import sql_statement
from pipeline_analytics.warehouse import transaction

log = logging.getLogger(__name__)

LOADED = "loaded"
# The temp table whose rows are the file's rows, per kind of file.
PRIMARY_TABLE = {
    "deals": "staged_deals",
    "history": "staged_history",
    "field_history": "staged_history",
    "stages": "staged_stages",
    "users": "staged_names",
    "accounts": "staged_names",
}
# A file's latest event is when the export was taken; never an expected close date.
LATEST_EVENT = {
    "staged_deals": "greatest(created_at, closed_at, stage_changed_at, updated_at)",
    "staged_history": "changed_at",
    "staged_stages": "null::timestamp",
    "staged_names": "null::timestamp",
}
# The event times of a deal; an expected close date is a plan, not an event.
DEAL_EVENT_COLUMNS = ("created_at", "closed_at", "stage_changed_at", "updated_at")
# An event later than the moment its file was loaded (plus this) has not happened: a typo (2094)
# or a placeholder. The day covers exports written in a time zone ahead of UTC.
FUTURE_TOLERANCE = timedelta(days=1)
FUTURE_FLAG = "event_in_future"
STAGED_TABLES = (
    "staged_deals",
    "staged_history",
    "staged_changes",
    "staged_stages",
    "staged_names",
)
# Longest raw value kept in rejected_rows.raw_record (a 10 MB cell is cut, not stored whole).
RAW_VALUE_LIMIT = 2000


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    file_path: Path
    object: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    snapshot_at: datetime | None
    rows_excluded: int = 0


# The configured settings of a source that decide how its files are read (Source attributes):
# a batch records them, and when they change the source's files are loaded again. Configured
# values only, never inferred ones: an inference is redone on every load anyway.
READ_SETTINGS = (
    "adapter",
    "columns",
    "history_columns",
    "status",
    "date_format",
    "decimal",
    "date_order",
    "encoding",
    "sheet",
    "currency",
    "activity_columns",
    "lead_columns",
)
# Every table holding rows a source's files put there, and how its rows name the source: by its
# `source` column, or by `batch_id` (one of the source's batches). A reload deletes them all, so a
# table added later that holds a source's rows goes here. ingest_batches comes last: the
# `batch_id` tables find the source's batches through it.
SOURCE_ROWS = (
    ("deals", "source"),
    ("deal_snapshots", "source"),
    ("stage_changes", "source"),
    ("deal_changes", "source"),
    ("deal_stage_events", "source"),
    ("pending_stage_events", "source"),
    ("source_stages", "source"),
    ("activities", "source"),
    ("crm_names", "source"),
    ("inferred_settings", "source"),
    ("leads", "source"),
    ("rejected_rows", "batch_id"),
    ("flagged_values", "batch_id"),
    ("ingest_batches", "source"),
)


def log_loaded(path: Path, result: BatchResult, rows: str = "rows") -> None:
    """The one INFO line every loaded file ends with: rows read, loaded, rejected, excluded."""
    log.info(
        "%s: %d %s read, %d loaded, %d rejected%s%s",
        path,
        result.rows_read,
        rows,
        result.rows_loaded,
        result.rows_rejected,
        f", {result.rows_excluded} excluded (deleted in the CRM or report totals)"
        if result.rows_excluded
        else "",
        " (see `pipeline-analytics rejects`)" if result.rows_rejected else "",
    )


def already_loaded(con: duckdb.DuckDBPyConnection, source: str, sha256: str) -> bool:
    rows = con.execute(
        "select count(*) from ingest_batches where source = ? and file_sha256 = ? and status = ?",
        [source, sha256, LOADED],
    ).fetchall()
    return rows[0][0] > 0


def read_settings(source: Source) -> str:
    """The source's READ_SETTINGS as canonical JSON (sorted keys): equal settings, equal text."""
    return json.dumps(
        {
            name: None if name in source.inferred else _plain(getattr(source, name))
            for name in READ_SETTINGS
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def settings_fingerprint(settings_json: str) -> str:
    return hashlib.sha256(settings_json.encode("utf-8")).hexdigest()


def _plain(value: object) -> object:
    """A setting as JSON data: dataclasses as objects, tuples as lists, paths as text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass(frozen=True)
class SettingsChange:
    """The newest batch of a source loaded with other settings, and the settings that differ."""

    batch_id: int
    changed: tuple[str, ...]  # dotted names, e.g. `columns.deal_id`

    def describe(self) -> str:
        return f"batch {self.batch_id} ({', '.join(self.changed) or 'settings'})"


def settings_change(con: duckdb.DuckDBPyConnection, source: Source) -> SettingsChange | None:
    """How the source's settings differ from those its loaded batches were read with, if they do.

    Batches loaded before settings were recorded (NULL) are unknown: said once, then taken as read
    with the current settings (no reload is forced; `ingest --reload` does one).
    """
    current = read_settings(source)
    fingerprint_now = settings_fingerprint(current)
    rows = con.execute(
        """
        select batch_id, settings_fingerprint, settings_json from ingest_batches
        where source = ? and status = ? order by batch_id
        """,
        [source.name, LOADED],
    ).fetchall()
    unknown = [batch_id for batch_id, fingerprint_then, _ in rows if fingerprint_then is None]
    if unknown:
        log.info(
            "source '%s': %d batch(es) (%d to %d) were loaded before the settings that read a "
            "file were recorded; they are taken as read with the current settings (if the config "
            "changed since, run `pipeline-analytics ingest --reload --source %s`)",
            source.name,
            len(unknown),
            unknown[0],
            unknown[-1],
            source.name,
        )
        con.execute(
            """
            update ingest_batches set settings_fingerprint = ?, settings_json = ?
            where source = ? and settings_fingerprint is null
            """,
            [fingerprint_now, current, source.name],
        )
    differing = [
        (batch_id, then)
        for batch_id, fingerprint_then, then in rows
        if fingerprint_then is not None and fingerprint_then != fingerprint_now
    ]
    if not differing:
        return None
    batch_id, then = differing[-1]
    return SettingsChange(
        batch_id, _changed_settings(json.loads(then or "{}"), json.loads(current))
    )


def _changed_settings(before: dict, after: dict, prefix: str = "") -> tuple[str, ...]:
    """Dotted names of the settings whose values differ (a key of a mapping is one setting)."""
    changed: list[str] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changed += _changed_settings(old, new, f"{prefix}{key}.")
        elif old != new:
            changed.append(f"{prefix}{key}")
    return tuple(changed)


def replace_source(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Delete every row the source's files put in the warehouse (SOURCE_ROWS), for a reload.

    Run it inside the reload's transaction: rolled back with it, the rows stay.
    """
    for table, key in SOURCE_ROWS:
        where = (
            "source = ?"
            if key == "source"
            else "batch_id in (select batch_id from ingest_batches where source = ?)"
        )
        deleted = con.execute(f"delete from {table} where {where}", [source]).fetchall()[0][0]
        log.debug("source '%s': reload deleted %d row(s) of %s", source, deleted, table)


def refresh_reference_tables(
    con: duckdb.DuckDBPyConnection, config: Config, temp_dir: Path
) -> None:
    """Exchange rates come from config; rewrite them so config edits take effect.

    When the rates changed, every deal's amount_base is computed again with the new rates. (Stages
    are written after each source's files load: `apply_stage_order`.)
    """
    rates = _read_rates(con, config, temp_dir)
    with transaction(con):
        before = con.execute("select * from fx_rates order by all").fetchall()
        con.execute("delete from fx_rates")
        con.execute(
            "insert into fx_rates select unnest(?::varchar[]), unnest(?::date[]), "
            "unnest(?::double[])",
            [[r[0] for r in rates], [r[1] for r in rates], [r[2] for r in rates]],
        )
        if con.execute("select * from fx_rates order by all").fetchall() != before:
            _reprice_deals(con, inference.reporting_currency(con, config))


def write_batch(
    con: duckdb.DuckDBPyConnection,
    *,
    config: Config,
    source: Source,
    path: Path,
    fp: FileFingerprint,
    loaded: LoadedFile,
    kind: str,
    snapshot_override: datetime | None,
    started_at: datetime,
) -> BatchResult:
    """Load the staged tables of one file as one batch: all good rows land, or nothing does."""
    primary = PRIMARY_TABLE[kind]
    present = {t for t in STAGED_TABLES if _temp_table_exists(con, t)}
    moment = snapshot_override or started_at
    if "staged_deals" in present:
        _reject_duplicate_ids(con)
        _drop_future_deal_events(con, moment)
    if "staged_history" in present:
        # A deals file's derived history (HubSpot's stage dates) has no lines: its rows just drop.
        reject_future_events(con, "staged_history", "changed_at", moment)
    # One pass: rows excluded, rows rejected, the latest event (a deletion is an event too).
    # Rows an adapter derives, like a flow's stage at creation, carry no reasons: not counted.
    excluded, rejected, latest_event = con.execute(
        f"""
        select count(*) filter (where exclude_reason is not null),
               count(*) filter (where reject_reason is not null and exclude_reason is null),
               max({LATEST_EVENT[primary]})
                   filter (where reject_reason is null or exclude_reason is not null)
        from {primary}
        """
    ).fetchall()[0]
    snapshot_at = snapshot_override or latest_event
    if snapshot_at is None and primary == "staged_deals":
        snapshot_at = file_modified_at(path)
    excluded += len(loaded.excluded_lines)
    rejected += len(loaded.structural_rejects)
    loaded_rows = loaded.rows_read - rejected - excluded
    if loaded_rows == 0 and rejected:
        raise InputError(_all_rejected_message(con, path, primary, loaded))
    # Row order in warehouse tables means nothing; not keeping it makes big inserts cheaper.
    con.execute("set preserve_insertion_order = false")
    try:
        with transaction(con):
            batch_id = _start_batch(con, source, kind, path, fp, snapshot_at, started_at)
            _write_rejects(con, batch_id, primary, loaded)
            con.execute("create or replace temp table affected_deals (deal_id varchar)")
            if "staged_stages" in present:
                _write_source_stages(con, source, batch_id, from_stage_table=kind == "stages")
            if "staged_names" in present:
                _write_crm_names(con, source, batch_id, kind)
            if "staged_deals" in present:
                _write_deals(con, config, source, snapshot_at, batch_id)
                _write_future_flags(con, batch_id)
            if "staged_history" in present:
                _write_stage_changes(con, source, batch_id)
            if "staged_changes" in present:
                _write_deal_changes(con, source, batch_id)
            if present & {"staged_deals", "staged_names"}:
                show_crm_names(con, source.name)
            con.execute(
                "insert into pending_stage_events select distinct ?, deal_id from affected_deals",
                [source.name],
            )
            _finish_batch(con, batch_id, loaded.rows_read, loaded_rows, rejected, excluded)
    finally:
        con.execute("reset preserve_insertion_order")
    if "staged_deals" in present:
        _warn_future_events(con, path, moment)
    return BatchResult(
        batch_id, path, kind, loaded.rows_read, loaded_rows, rejected, snapshot_at, excluded
    )


def file_modified_at(path: Path) -> datetime:
    """When a deals file with no event dates at all (a win/loss extract) was taken: its mtime.

    Without it the batch would have no snapshot_at, and nothing could say as of when its deals
    stood where they stand. Naive UTC, like every timestamp in the warehouse.
    """
    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
    log.warning(
        "%s: no created, closed, stage-change or modified dates in the file; its snapshot time "
        "is the file's modification time, %s UTC (pass --snapshot-at to set it)",
        path,
        f"{modified:%Y-%m-%d %H:%M:%S}",
    )
    return modified


def reject_future_events(
    con: duckdb.DuckDBPyConnection, table: str, column: str, moment: datetime
) -> None:
    """Reject the rows of `table` whose event time is after `moment` plus the tolerance.

    For a history or activities row the time is the fact itself: without it nothing is left.
    """
    con.execute(
        f"""
        update {table}
        set reject_reason = '{column}: ' || {column}::varchar
                || ' is after the file was loaded (' || strftime($moment, '%Y-%m-%d %H:%M')
                || ' UTC, plus a day for time zones); fix the date in the CRM',
            reject_column = '{column}'
        where {column} > $limit and reject_reason is null and exclude_reason is null
        """,
        {"moment": moment, "limit": moment + FUTURE_TOLERANCE},
    )


def _drop_future_deal_events(con: duckdb.DuckDBPyConnection, moment: datetime) -> None:
    """Event times after the load moment leave staged_deals; the deals load with the rest.

    Kept in temp table `future_values` (line, deal, column, value) for `flagged_values`, so they
    never set snapshot_at: a 2094 typo would make the file newer than every later export.
    """
    columns = DEAL_EVENT_COLUMNS
    limit = {"limit": moment + FUTURE_TOLERANCE}
    con.execute(
        "create or replace temp table future_values as "
        + " union all ".join(
            f"select _row, deal_id, '{c}' as column_name, {c}::varchar as value "
            f"from staged_deals where {c} > $limit "
            "and reject_reason is null and exclude_reason is null"
            for c in columns
        ),
        limit,
    )
    con.execute(
        f"""
        update staged_deals
        set {", ".join(f"{c} = case when {c} > $limit then null else {c} end" for c in columns)}
        where greatest({", ".join(columns)}) > $limit
        """,
        limit,
    )


def _write_future_flags(con: duckdb.DuckDBPyConnection, batch_id: int) -> None:
    con.execute(
        """
        insert into flagged_values by name
        select ?::integer as batch_id, _row as source_row, deal_id, column_name, value,
               ?::varchar as flag
        from future_values
        """,
        [batch_id, FUTURE_FLAG],
    )


def _warn_future_events(con: duckdb.DuckDBPyConnection, path: Path, moment: datetime) -> None:
    found = con.execute(
        "select _row, column_name, value, count(*) over () from future_values "
        "order by _row, column_name limit 1"
    ).fetchall()
    con.execute("drop table if exists future_values")
    if found:
        line, column, value, count = found[0]
        log.warning(
            "%s: %d event times after the file was loaded (first: line %d, %s %s) were left "
            "out; the deals load without them (loaded %s UTC, a day allowed for time zones; "
            "data-quality check %s); fix the dates in the CRM",
            path,
            count,
            line,
            column,
            value,
            f"{moment:%Y-%m-%d %H:%M}",
            FUTURE_FLAG,
        )


def apply_pending_stage_events(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the stage events of every deal a loaded file touched, once per source.

    Deriving stints sorts all of a deal's history, so it runs once after a source's files rather
    than after each file; the pending list makes that safe across a crash.
    """
    sources = con.execute("select distinct source from pending_stage_events").fetchall()
    for (source,) in sources:
        try:
            with transaction(con):
                con.execute(
                    "create or replace temp table affected_deals as "
                    "select distinct deal_id from pending_stage_events where source = ?",
                    [source],
                )
                rebuild_stage_events(con, source)
                con.execute("delete from pending_stage_events where source = ?", [source])
        finally:
            con.execute("drop table if exists affected_deals")


def rebuild_stage_events(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Recompute deal_stage_events for the deals in temp table `affected_deals`.

    A deal with recorded stage changes (a history file, a deal flow, HubSpot's stage dates) gets
    its stints from them: each change starts one (`_write_stage_changes` keeps only the rows that
    change the stage), and a closed deal's last open stint ends at its close.
    A deal without recorded changes gets its stints from the stages its exports showed over time
    (origin `snapshots`): a stint starts at the stage change time the export gives when it lies
    after the previous export, at the close for a closed stage, at creation for the first stage,
    else at the export that first showed the new stage. One export (or none showing a change)
    gives one `current_only` event. A deal without a creation date in its first stage gets an
    unknown start (NULL entered_at), like any deal first seen after it entered its stage.
    """
    con.execute(
        """
        delete from deal_stage_events
        where source = ? and deal_id in (select deal_id from affected_deals)
        """,
        [source],
    )
    # Within one file stage_changes keeps only changes (in the order below, the one
    # _write_stage_changes uses); rows of different files can repeat the stage before them, so a
    # source loaded from several files drops those repeats here.
    order = "order by c.changed_at, c.source_row, c.origin"
    several_files = con.execute(
        "select count(distinct batch_id) > 1 from stage_changes where source = ?", [source]
    ).fetchall()[0][0]
    repeats_across_files = (
        f"qualify lag(c.stage) over (partition by c.deal_id {order}) is distinct from c.stage"
        if several_files
        else ""
    )
    con.execute(
        f"""
        insert into deal_stage_events by name
        with changes as (
            select c.deal_id, c.stage, c.changed_at, c.source_row, c.origin
            from stage_changes as c
            semi join affected_deals as a on c.deal_id = a.deal_id
            where c.source = $source
            {repeats_across_files}
        ),
        history_stints as (
            -- Each change starts a stint; its number counts the deal's earlier stints in the same
            -- stage, computed within the one sort the next change needs.
            select
                deal_id, stage, coalesce(origin, 'history') as origin, changed_at as entered_at,
                lead(changed_at) over deal_order as next_change_at,
                1 + coalesce(len(list_filter(
                    list(stage) over (deal_order rows between unbounded preceding and 1 preceding),
                    lambda earlier: earlier = stage
                )), 0) as stint
            from changes as c
            window deal_order as (partition by c.deal_id {order})
        ),
        deals_with_changes as (
            select distinct c.deal_id
            from stage_changes as c
            semi join affected_deals as a on c.deal_id = a.deal_id
            where c.source = $source
        ),
        snapshot_deals as materialized (
            select s.deal_id, count(*) as exports
            from deal_snapshots as s
            semi join affected_deals as a on s.deal_id = a.deal_id
            anti join deals_with_changes as c on s.deal_id = c.deal_id
            where s.source = $source
            group by s.deal_id
        ),
        snapshot_rows as (
            select
                s.deal_id, s.snapshot_at, s.stage, s.status, s.closed_at, s.stage_changed_at,
                lag(s.stage) over w as previous_stage,
                lag(s.snapshot_at) over w as previous_snapshot_at
            from deal_snapshots as s
            semi join snapshot_deals as m on s.deal_id = m.deal_id and m.exports > 1
            where s.source = $source
            window w as (partition by s.deal_id order by s.snapshot_at, s.batch_id)
        ),
        single_export_stints as (
            select
                d.source, d.deal_id, d.pipeline, d.stage, d.stage_order, d.status, d.closed_at,
                case
                    when d.status <> 'open' and d.stage_order is null then d.closed_at
                    when d.stage_changed_at is not null then d.stage_changed_at
                    when d.stage_order = 1 then d.created_at
                end as entered_at
            from deals as d
            semi join snapshot_deals as m on d.deal_id = m.deal_id and m.exports = 1
            where d.source = $source
        ),
        snapshot_stints as (
            select
                d.source, d.deal_id, d.pipeline, s.stage, st.stage_order,
                case
                    when s.status <> 'open' and st.stage_order is null then s.closed_at
                    when s.stage_changed_at is not null
                         and (s.previous_snapshot_at is null
                              or s.stage_changed_at > s.previous_snapshot_at)
                        then s.stage_changed_at
                    when s.previous_snapshot_at is null and st.stage_order = 1 then d.created_at
                    when s.previous_snapshot_at is not null then s.snapshot_at
                end as entered_at,
                s.snapshot_at,
                count(*) over (partition by d.deal_id) as stints_seen,
                d.status, d.closed_at
            from snapshot_rows as s
            inner join deals as d on d.source = $source and d.deal_id = s.deal_id
            left join stages as st on st.pipeline = d.pipeline and st.stage = s.stage
            where s.previous_stage is distinct from s.stage
        ),
        snapshot_events as (
            select
                *,
                lead(entered_at) over (partition by deal_id order by snapshot_at)
                    as next_entered_at,
                row_number() over (partition by deal_id order by snapshot_at desc) = 1 as is_last
            from snapshot_stints
        )
        select
            d.source, d.deal_id, d.pipeline, s.stage,
            st.stage_order,
            s.entered_at,
            case
                when s.next_change_at is not null then s.next_change_at
                when d.status <> 'open' and st.stage_order is not null
                     and d.closed_at >= s.entered_at then d.closed_at
            end as exited_at,
            s.stint::integer as stint,
            s.origin
        from history_stints as s
        inner join deals as d on d.source = $source and d.deal_id = s.deal_id
        left join stages as st on st.pipeline = d.pipeline and st.stage = s.stage
        union all
        select
            source, deal_id, pipeline, stage, stage_order, entered_at,
            case
                when not is_last then next_entered_at
                when status <> 'open' and stage_order is not null
                     and closed_at >= entered_at then closed_at
            end as exited_at,
            row_number() over (partition by deal_id, stage order by snapshot_at)::integer
                as stint,
            case when stints_seen = 1 then 'current_only' else 'snapshots' end as origin
        from snapshot_events
        union all
        -- Seen in one export only: its current stage is its one known stint (a fast path).
        select
            source, deal_id, pipeline, stage, stage_order, entered_at,
            case
                when status <> 'open' and stage_order is not null
                     and closed_at >= entered_at then closed_at
            end as exited_at,
            1 as stint,
            'current_only' as origin
        from single_export_stints
        """,
        {"source": source},
    )


def _write_deals(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    source: Source,
    snapshot_at: datetime | None,
    batch_id: int,
) -> None:
    base = config.pipeline.currency
    con.execute(
        f"""
        create or replace temp table incoming_deals as
        select
            $source::varchar as source, s.deal_id, s.name, s.account, s.owner,
            coalesce(s.pipeline, 'default') as pipeline, s.lead_source, s.deal_type, s.stage,
            nullif(list_position($stages::varchar[], s.stage), 0) as stage_order, s.status,
            s.amount, upper(coalesce(s.currency, $base)) as currency,
            {_amount_base_sql("s", "fx")} as amount_base,
            s.amount_base as amount_company_currency,
            s.probability, s.created_at, s.closed_at, s.expected_close_date,
            s.stage_changed_at, s.activity_count, s.segment, s.lead_id,
            $snapshot_at::timestamp as snapshot_at, $batch_id::integer as batch_id
        from staged_deals as s
        asof left join fx_rates as fx
            on upper(coalesce(s.currency, $base)) = fx.currency
            and {_price_date_sql("s", "$snapshot_at")} >= fx.valid_from
        where s.reject_reason is null and s.exclude_reason is null
        """,
        {
            "source": source.name,
            # Inferred stage orders are applied once all files are loaded (apply_stage_order).
            "stages": list(config.pipeline.stages or ()),
            "base": base,
            "snapshot_at": snapshot_at,
            "batch_id": batch_id,
        },
    )
    # The newest export of a deal is its current state; an older file only adds a snapshot.
    con.execute(
        """
        delete from deals as d using incoming_deals as i
        where d.source = i.source and d.deal_id = i.deal_id and d.snapshot_at <= i.snapshot_at
        """
    )
    con.execute(
        """
        insert into deals by name
        select i.* from incoming_deals as i
        anti join deals as d on d.source = i.source and d.deal_id = i.deal_id
        """
    )
    # A deal deleted in the CRM since its last export leaves the warehouse (its snapshots stay).
    con.execute(
        """
        delete from deals as d using staged_deals as s
        where d.source = ? and d.deal_id = s.deal_id and s.deleted
          and s.exclude_reason is not null and d.snapshot_at <= ?
        """,
        [source.name, snapshot_at],
    )
    con.execute(
        """
        insert into deal_snapshots by name
        select snapshot_at, source, deal_id, stage, status, amount_base, expected_close_date,
               owner, batch_id, closed_at, stage_changed_at
        from incoming_deals
        """
    )
    con.execute(
        """
        insert into affected_deals
        select deal_id from incoming_deals
        union
        select deal_id from staged_deals where deleted and exclude_reason is not null
        """
    )
    if config.pipeline.stages is not None:
        _warn_unknown_stages(con, config, source)


def _amount_base_sql(deal: str, fx: str) -> str:
    """amount in the reporting currency: the rate valid at the (expected) close date.

    With no rate for the currency, the CRM's own conversion (HubSpot's amount in company
    currency) if the export has one; else NULL, so the deal is left out of money totals.
    """
    return (
        f"case when upper(coalesce({deal}.currency, $base)) = upper($base) then {deal}.amount "
        f"else coalesce({deal}.amount * {fx}.rate_to_base, {deal}.amount_base) end"
    )


def _price_date_sql(deal: str, fallback: str) -> str:
    return f"coalesce({deal}.closed_at::date, {deal}.expected_close_date, {fallback}::date)"


def _reprice_deals(con: duckdb.DuckDBPyConnection, base: str) -> None:
    con.execute(
        f"""
        update deals set amount_base = repriced.amount_base
        from (
            select d.source, d.deal_id,
                   case when upper(d.currency) = upper($base) then d.amount
                        else coalesce(d.amount * fx.rate_to_base, d.amount_company_currency)
                   end as amount_base
            from deals as d
            asof left join fx_rates as fx
                on d.currency = fx.currency
                and {_price_date_sql("d", "d.snapshot_at")} >= fx.valid_from
        ) as repriced
        where deals.source = repriced.source and deals.deal_id = repriced.deal_id
        """,
        {"base": base},
    )


def _warn_unknown_stages(con: duckdb.DuckDBPyConnection, config: Config, source: Source) -> None:
    """Open deals in a stage missing from [pipeline] stages load, but their funnel place is lost."""
    rows = con.execute(
        """
        select stage, count(*) from incoming_deals
        where stage_order is null and status = 'open'
        group by stage order by count(*) desc, stage limit 5
        """
    ).fetchall()
    if rows:
        listed = ", ".join(f"'{stage}' ({n})" for stage, n in rows)
        log.warning(
            "source '%s': open deals in stages not in [pipeline] stages: %s; add them to "
            "[pipeline] stages in %s (in funnel order) or fix the export",
            source.name,
            listed,
            config.path,
        )


def _write_stage_changes(con: duckdb.DuckDBPyConnection, source: Source, batch_id: int) -> None:
    """Stage changes: rows that repeat the deal's previous stage in the file are not changes.

    History tables log every amount or close-date edit with the current stage, so most rows of a
    history export repeat the stage; keeping only the changes shrinks what the stint derivation
    sorts. A stage held since creation starts at the deal's creation; for a deal without a
    creation date such a row tells no time and is left out (its current stage still has an event).
    """
    # Overlapping history exports repeat changes; the first history file needs no such check.
    stored = con.execute(
        "select count(*) from stage_changes where source = ?", [source.name]
    ).fetchall()[0][0]
    already_stored = (
        """
          and not exists (
              select 1 from stage_changes as c
              where c.source = $source and c.deal_id = h.deal_id and c.stage = h.stage
                and c.changed_at = h.changed_at
          )"""
        if stored
        else ""
    )
    con.execute(
        f"""
        insert into stage_changes by name
        with valid as (
            select _row, deal_id, stage, origin, changed_at
            from staged_history
            where reject_reason is null and exclude_reason is null and stage is not null
        ),
        incoming as (
            select * from valid where changed_at is not null
            union all
            select v._row, v.deal_id, v.stage, v.origin, d.created_at as changed_at
            from valid as v
            inner join deals as d on d.source = $source and d.deal_id = v.deal_id
            where v.changed_at is null
        ),
        changes as (
            select
                *,
                lag(stage) over (partition by deal_id order by changed_at, _row, origin)
                    as previous_stage
            from incoming
            where changed_at is not null
        )
        select $source::varchar as source, deal_id, stage, changed_at,
               $batch_id::integer as batch_id, _row as source_row, origin
        from changes as h
        where previous_stage is distinct from stage {already_stored}
        """,
        {"source": source.name, "batch_id": batch_id},
    )
    con.execute(
        """
        insert into affected_deals
        select distinct deal_id from staged_history
        where reject_reason is null and exclude_reason is null and stage is not null
        """
    )


def _write_deal_changes(con: duckdb.DuckDBPyConnection, source: Source, batch_id: int) -> None:
    """Amount, close-date and status edits, each kept once (overlapping history exports)."""
    con.execute(
        """
        insert into deal_changes by name
        select distinct $source::varchar as source, deal_id, field, old_value, new_value,
               changed_at, $batch_id::integer as batch_id
        from staged_changes as s
        where not exists (
            select 1 from deal_changes as c
            where c.source = $source and c.deal_id = s.deal_id and c.field = s.field
              and c.changed_at = s.changed_at and c.new_value is not distinct from s.new_value
        )
        """,
        {"source": source.name, "batch_id": batch_id},
    )


def _write_source_stages(
    con: duckdb.DuckDBPyConnection, source: Source, batch_id: int, *, from_stage_table: bool
) -> None:
    """The CRM's stage table (Salesforce OpportunityStage) replaces the source's previous one.

    Stage metadata a deals file carries (Data Export's StageSortOrder, IsClosed, IsWon) is merged
    in per stage, newest deals file first; a stage the stage table gives keeps the table's row.
    """
    params = {"source": source.name}
    con.execute(
        sql_statement("ingest/source_stages_clear"),
        {**params, "from_stage_table": from_stage_table},
    )
    con.execute(sql_statement("ingest/source_stages_insert"), {**params, "batch_id": batch_id})


def _write_crm_names(
    con: duckdb.DuckDBPyConnection, source: Source, batch_id: int, kind: str
) -> None:
    """A CRM's user or account names replace the source's earlier ones (one row per id)."""
    con.execute("delete from crm_names where source = ? and object = ?", [source.name, kind])
    con.execute(
        """
        insert into crm_names by name
        select ?::varchar as source, ?::varchar as object, id, name, ?::integer as batch_id
        from staged_names
        where reject_reason is null and exclude_reason is null
        qualify row_number() over (partition by id order by _row desc) = 1
        """,
        [source.name, kind, batch_id],
    )


def show_crm_names(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Owner and account ids on the source's deals and snapshots become the CRM's names for them.

    Run after every deals or names file, so either may come first: a User.csv loaded after the
    deals names their owners, and later deals files are named as they load.
    """
    has_names = con.execute(
        "select count(*) > 0 from crm_names where source = ?", [source]
    ).fetchall()[0][0]
    if has_names:
        named = con.execute(sql_statement("ingest/crm_names_deals"), {"source": source}).fetchall()[
            0
        ][0]
        con.execute(sql_statement("ingest/crm_names_snapshots"), {"source": source})
        if named:
            log.info(
                "source '%s': %d deal(s) now show owner or account names from the CRM's user "
                "and account files instead of ids",
                source,
                named,
            )


def apply_stage_order(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """Write `stages` (configured or inferred) and bring every deal's stage order up to it.

    Runs after all files of a source are loaded, so the order is decided from all of them, and a
    changed order (in the config or in the data) reorders deals loaded earlier too: their stage
    events are queued for the rebuild that follows (`apply_pending_stage_events`).
    """
    with transaction(con):
        _write_stages(con, config)
        con.execute(
            """
            create or replace temp table reordered_deals as
            select d.source, d.deal_id, st.stage_order
            from deals as d
            left join stages as st on d.pipeline = st.pipeline and d.stage = st.stage
            where d.stage_order is distinct from st.stage_order
            """
        )
        con.execute(
            """
            update deals set stage_order = r.stage_order
            from reordered_deals as r
            where deals.source = r.source and deals.deal_id = r.deal_id
            """
        )
        con.execute(
            """
            insert into pending_stage_events
            select source, deal_id from reordered_deals
            union
            select e.source, e.deal_id
            from deal_stage_events as e
            left join stages as st on e.pipeline = st.pipeline and e.stage = st.stage
            where e.stage_order is distinct from st.stage_order
            """
        )
        con.execute("drop table reordered_deals")


def _write_stages(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """Open stages in order for every pipeline seen, plus the terminal stages, with their basis.

    The open stages come from [pipeline] stages (basis `config`) for every pipeline, else from
    what the loaded data says (`inference.infer_stage_order`). Terminal stages are those closed
    deals carry (outside the open ones) and those a CRM stage table marks closed. A stage's
    default probability comes from config, else from the CRM's stage table.
    """
    stages = config.pipeline.stages
    if stages is None:
        inference.infer_stage_order(con, config)
    else:
        con.execute(
            """
            create or replace temp table open_stage_order as
            with pipelines as (
                select distinct pipeline from deals
                union select 'default' where not exists (select 1 from deals)
            )
            select p.pipeline, o.stage, o.stage_order::integer as stage_order,
                   'config' as basis
            from pipelines as p
            cross join (
                select unnest($stages::varchar[]) as stage,
                       generate_subscripts($stages::varchar[], 1) as stage_order
            ) as o
            """,
            {"stages": list(stages)},
        )
    probabilities = config.pipeline.probabilities or ()
    bases = inference.outcome_bases(con, config)
    con.execute("delete from stages")
    con.execute(
        """
        insert into stages by name
        with pipelines as (
            select distinct pipeline from deals
            union select 'default' where not exists (select 1 from deals)
        ),
        configured_probability as (
            select unnest($configured::varchar[]) as stage,
                   unnest($probabilities::double[]) as default_probability
        ),
        crm_probability as (
            select stage, max(default_probability) / 100 as default_probability
            from source_stages group by stage
        ),
        outcome_basis as (
            select unnest($sources::varchar[]) as source, unnest($bases::varchar[]) as basis
        ),
        terminal as (
            select d.pipeline, d.stage, d.status = 'won' as won, d.status = 'lost' as lost,
                   b.basis
            from deals as d
            left join outcome_basis as b on d.source = b.source
            where d.status <> 'open'
            union all
            select s.pipeline, s.stage, s.is_won, not s.is_won, 'crm stage table'
            from source_stages as s semi join pipelines as p on s.pipeline = p.pipeline
            where s.is_closed
        )
        select o.pipeline, o.stage, o.stage_order, false as is_won, false as is_lost,
               coalesce(p.default_probability, c.default_probability) as default_probability,
               o.basis
        from open_stage_order as o
        left join configured_probability as p on o.stage = p.stage
        left join crm_probability as c on o.stage = c.stage
        union all
        select t.pipeline, t.stage, null as stage_order,
               bool_or(t.won) as is_won, bool_or(t.lost) as is_lost,
               case when bool_or(t.won) then 1.0 else 0.0 end as default_probability,
               case when bool_or(t.basis = 'crm stage table') then 'crm stage table'
                    else min(t.basis) end as basis
        from terminal as t
        anti join open_stage_order as o on t.pipeline = o.pipeline and t.stage = o.stage
        group by t.pipeline, t.stage
        """,
        {
            "configured": list(stages or ()) if probabilities else [],
            "probabilities": list(probabilities),
            "sources": list(bases),
            "bases": list(bases.values()),
        },
    )
    con.execute("drop table open_stage_order")


def _reject_duplicate_ids(con: duckdb.DuckDBPyConnection) -> None:
    """Within one file a deal appears once; earlier rows of a repeated id are rejected."""
    con.execute(
        """
        update staged_deals as s
        set reject_reason = 'duplicate deal_id ''' || s.deal_id || ''': line '
                || d.kept_row || ' has the same id and was kept',
            reject_column = 'deal_id'
        from (
            select deal_id, max(_row) as kept_row
            from staged_deals where reject_reason is null and exclude_reason is null
            group by deal_id having count(*) > 1
        ) as d
        where s.deal_id = d.deal_id and s.reject_reason is null and s.exclude_reason is null
          and s._row < d.kept_row
        """
    )


def _all_rejected_message(
    con: duckdb.DuckDBPyConnection, path: Path, primary: str, loaded: LoadedFile
) -> str:
    first = con.execute(
        f"select _row, reject_reason from {primary} "
        "where reject_reason is not null and exclude_reason is null order by _row limit 1"
    ).fetchall()
    candidates = [(line, reason) for line, reason, _ in loaded.structural_rejects[:1]] + first
    line, reason = min(candidates)
    return (
        f"{path}: none of its {loaded.rows_read} rows can be loaded (line {line}: {reason}); "
        "check that the file is the export the config describes, with one record per line"
    )


def write_file_batch(
    con: duckdb.DuckDBPyConnection,
    *,
    source: Source,
    kind: str,
    path: Path,
    fp: FileFingerprint,
    loaded: LoadedFile,
    staged_table: str,
    rejected: int,
    excluded: int,
    snapshot_at: datetime | None,
    started_at: datetime,
    write_rows: Callable[[int], None],
    mapping: str,
) -> BatchResult:
    """One file of a table beside the deals (activities, leads) as one batch, in one transaction.

    `rejected` and `excluded` count the staged rows; the file's structural rejects and excluded
    lines are added here. `write_rows(batch_id)` inserts the good rows; `mapping` names the config
    table to fix when no row of the file can be loaded.
    """
    rejected += len(loaded.structural_rejects)
    excluded += len(loaded.excluded_lines)  # report footers and the like: not data
    loaded_rows = loaded.rows_read - rejected - excluded
    if loaded_rows == 0:
        first = con.execute(
            f"select _row, reject_reason from {staged_table} where reject_reason is not null "
            "order by _row limit 1"
        ).fetchall()
        detail = f" (first: line {first[0][0]}: {first[0][1]})" if first else ""
        raise InputError(
            f"{path}: every row of the {kind} file was rejected{detail}; "
            f"fix the file or the [{mapping}] mapping in the config"
        )
    with transaction(con):
        batch_id = _start_batch(con, source, kind, path, fp, snapshot_at, started_at)
        _write_rejects(con, batch_id, staged_table, loaded)
        write_rows(batch_id)
        _finish_batch(con, batch_id, loaded.rows_read, loaded_rows, rejected, excluded)
    return BatchResult(
        batch_id, path, kind, loaded.rows_read, loaded_rows, rejected, snapshot_at, excluded
    )


def _start_batch(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    kind: str,
    path: Path,
    fp: FileFingerprint,
    snapshot_at: datetime | None,
    started_at: datetime,
) -> int:
    batch_id = con.execute("select nextval('batch_id_seq')").fetchall()[0][0]
    settings = read_settings(source)
    con.execute(
        """
        insert into ingest_batches (batch_id, source, adapter, object, file_path, file_sha256,
                                    snapshot_at, started_at, status, settings_fingerprint,
                                    settings_json)
        values (?, ?, ?, ?, ?, ?, ?, ?, 'loading', ?, ?)
        """,
        [
            batch_id,
            source.name,
            source.adapter,
            kind,
            str(path),
            fp.sha256,
            snapshot_at,
            started_at,
            settings_fingerprint(settings),
            settings,
        ],
    )
    return int(batch_id)


def _write_rejects(
    con: duckdb.DuckDBPyConnection, batch_id: int, staged: str, loaded: LoadedFile
) -> None:
    """Rejected rows with their line, reason and the raw record as JSON (long values cut)."""
    raw_struct = (
        "{"
        + ", ".join(
            f"'{h.replace(chr(39), chr(39) * 2)}': "
            f'left(r."{h.replace(chr(34), chr(34) * 2)}", {RAW_VALUE_LIMIT})'
            for h in loaded.headers
        )
        + "}"
    )
    con.execute(
        f"""
        insert into rejected_rows by name
        select ?::integer as batch_id, s._row as source_row, any_value(s.reject_column)
                   as column_name,
               any_value(s.reject_reason) as reason,
               any_value(to_json({raw_struct})::varchar) as raw_record
        from {staged} as s
        inner join {loaded.table} as r on r._row = s._row
        where s.reject_reason is not null and s.exclude_reason is null
        group by s._row
        """,
        [batch_id],
    )
    if loaded.structural_rejects:
        con.execute(
            "insert into rejected_rows select ?, unnest(?::bigint[]), null, "
            "unnest(?::varchar[]), unnest(?::varchar[])",
            [
                batch_id,
                [line for line, _, _ in loaded.structural_rejects],
                [reason for _, reason, _ in loaded.structural_rejects],
                [raw[:RAW_VALUE_LIMIT] for _, _, raw in loaded.structural_rejects],
            ],
        )


def _finish_batch(
    con: duckdb.DuckDBPyConnection,
    batch_id: int,
    rows_read: int,
    rows_loaded: int,
    rejected: int,
    excluded: int,
) -> None:
    con.execute(
        """
        update ingest_batches
        set rows_read = ?, rows_loaded = ?, rows_rejected = ?, rows_excluded = ?,
            finished_at = current_timestamp::timestamp, status = ?
        where batch_id = ?
        """,
        [rows_read, rows_loaded, rejected, excluded, LOADED, batch_id],
    )


def _temp_table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "select count(*) from duckdb_tables() where temporary and table_name = ?", [name]
    ).fetchall()
    return rows[0][0] > 0


def _read_rates(
    con: duckdb.DuckDBPyConnection, config: Config, temp_dir: Path
) -> list[tuple[str, object, float]]:
    """(currency, valid_from, rate_to_base): config rates (valid always), then the rates file."""
    rates: list[tuple[str, object, float]] = [
        (currency.upper(), datetime(1900, 1, 1).date(), rate)
        for currency, rate in sorted(config.pipeline.rates.items())
    ]
    path = config.pipeline.rates_file
    if path is None:
        return rates
    if not path.is_file():
        raise ConfigError(
            f"{config.path}: key 'pipeline.rates_file' names '{path}', which does not exist; "
            "fix the path (relative paths are read from the config's folder)"
        )
    fp = fingerprint(path)
    loaded = load_file(con, path, fp, "raw_rates", temp_dir)
    try:
        index = HeaderIndex(loaded.headers)
        headers = {
            field: next((h for a in aliases if (h := index.find(a))), None)
            for field, aliases in (
                ("currency", ("currency", "valuta")),
                ("valid_from", ("valid_from", "date", "valid from", "data")),
                ("rate", ("rate", "rate_to_base", "tasso", "cambio")),
            )
        }
        missing = [f for f, h in headers.items() if h is None]
        if missing:
            raise ConfigError(
                f"{path}: rates file needs columns currency, valid_from, rate; missing "
                f"{', '.join(missing)}; headers found: {', '.join(map(repr, loaded.headers))}"
            )
        text = {f: text_of(h) for f, h in headers.items() if h}
        locale = detect_locale(
            con,
            loaded.table,
            {"rate": text["rate"]},
            {"valid_from": text["valid_from"]},
            decimal=None,
            date_order=None,
            date_format=None,
            delimiter=loaded.delimiter,
            file_label=str(path),
            source_name="rates",
        )
        return rates + _parsed_rates(con, loaded, text, locale, path)
    finally:
        drop_loaded(con, "raw_rates")


def _parsed_rates(
    con: duckdb.DuckDBPyConnection,
    loaded: LoadedFile,
    text: dict[str, str],
    locale: Locale,
    path: Path,
) -> list[tuple[str, object, float]]:
    from pipeline_analytics.ingest.locale import timestamp_sql

    if loaded.structural_rejects:
        line, reason, _ = loaded.structural_rejects[0]
        raise ConfigError(f"{path}: line {line}: {reason}; fix the rates file")
    rate = number_sql(text["rate"], locale)
    valid_from = timestamp_sql(text["valid_from"], locale)
    bad = con.execute(
        f"""
        select _row, {text["currency"]}, {text["valid_from"]}, {text["rate"]}
        from {loaded.table}
        where not coalesce(regexp_full_match({text["currency"]}, '[A-Za-z]{{3}}'), false)
           or not coalesce(isfinite({valid_from}), false)
           or not coalesce(isfinite({rate}) and {rate} > 0, false)
        order by _row limit 1
        """
    ).fetchall()
    if bad:
        line, currency, day, value = bad[0]
        raise ConfigError(
            f"{path}: line {line}: currency '{currency}', valid_from '{day}', rate '{value}' "
            "is not a 3-letter currency code, a finite date and a positive number; fix that line"
        )
    return con.execute(
        f"""
        select upper({text["currency"]}), {valid_from}::date, {rate}
        from {loaded.table} order by 1, 2
        """
    ).fetchall()
