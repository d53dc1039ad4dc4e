"""Writing staged exports into the warehouse, one transaction per file.

Adapters produce `staged_deals` / `staged_history` temp tables in canonical columns with a reject
reason per row; this module records the batch, the rejected rows, the deals (newest snapshot wins),
the snapshot history and the stage events of every deal the file touched. If anything fails, the
transaction rolls back and the warehouse is exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from pipeline_analytics.config import Config, Source
from pipeline_analytics.ingest.files import FileFingerprint, LoadedFile

LOADED = "loaded"


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    file_path: Path
    object: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    snapshot_at: datetime | None


def already_loaded(con: duckdb.DuckDBPyConnection, source: str, sha256: str) -> bool:
    rows = con.execute(
        "select count(*) from ingest_batches where source = ? and file_sha256 = ? and status = ?",
        [source, sha256, LOADED],
    ).fetchall()
    return rows[0][0] > 0


def refresh_reference_tables(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """Stages and exchange rates come from config; rewrite them so config edits take effect."""
    con.execute("begin transaction")
    try:
        _write_stages(con, config)
        con.execute("delete from fx_rates")
        for currency, rate in sorted(config.pipeline.rates.items()):
            con.execute(
                "insert into fx_rates values (?, date '1900-01-01', ?)", [currency.upper(), rate]
            )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def write_deals_batch(
    con: duckdb.DuckDBPyConnection,
    *,
    config: Config,
    source: Source,
    path: Path,
    fp: FileFingerprint,
    loaded: LoadedFile,
    snapshot_override: datetime | None,
    started_at: datetime,
) -> BatchResult:
    """Load `staged_deals` as one batch: all good rows land, or (on error) nothing does."""
    _reject_duplicate_ids(con)
    snapshot_at = (
        snapshot_override
        or con.execute(
            "select max(greatest(created_at, closed_at, stage_changed_at, updated_at)) "
            "from staged_deals where reject_reason is null"
        ).fetchall()[0][0]
    )
    stages = list(config.pipeline.stages)
    con.execute("begin transaction")
    try:
        batch_id = _start_batch(con, source, "deals", path, fp, snapshot_at, started_at)
        rejected = _write_rejects(con, batch_id, "staged_deals", loaded)
        con.execute(
            """
            create or replace temp table incoming_deals as
            select
                ?::varchar as source, s.deal_id, s.name, s.account, s.owner,
                coalesce(s.pipeline, 'default') as pipeline, s.lead_source, s.deal_type, s.stage,
                nullif(list_position(?::varchar[], s.stage), 0) as stage_order, s.status, s.amount,
                upper(coalesce(s.currency, ?)) as currency,
                case when upper(coalesce(s.currency, ?)) = upper(?) then s.amount
                     else s.amount * fx.rate_to_base end as amount_base,
                s.probability, s.created_at, s.closed_at, s.expected_close_date,
                s.stage_changed_at, s.activity_count, s.segment,
                ?::timestamp as snapshot_at, ?::integer as batch_id
            from staged_deals as s
            asof left join fx_rates as fx
                on upper(coalesce(s.currency, ?)) = fx.currency
                and coalesce(s.closed_at::date, s.expected_close_date, ?::date) >= fx.valid_from
            where s.reject_reason is null
            """,
            [
                source.name,
                stages,
                *[config.pipeline.currency] * 3,
                snapshot_at,
                batch_id,
                config.pipeline.currency,
                snapshot_at,
            ],
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
        con.execute(
            """
            insert into deal_snapshots by name
            select snapshot_at, source, deal_id, stage, status, amount_base, expected_close_date,
                   owner, batch_id
            from incoming_deals
            """
        )
        loaded_rows = con.execute("select count(*) from incoming_deals").fetchall()[0][0]
        con.execute(
            "create or replace temp table affected_deals as "
            "select distinct deal_id from incoming_deals"
        )
        _write_stages(con, config)
        rebuild_stage_events(con, source.name)
        _finish_batch(con, batch_id, loaded.rows_read, loaded_rows, rejected)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return BatchResult(
        batch_id, path, "deals", loaded.rows_read, loaded_rows, rejected, snapshot_at
    )


def write_history_batch(
    con: duckdb.DuckDBPyConnection,
    *,
    source: Source,
    path: Path,
    fp: FileFingerprint,
    loaded: LoadedFile,
    started_at: datetime,
) -> BatchResult:
    """Load `staged_history` as one batch; repeated rows (same deal, stage, time) are kept once."""
    snapshot_at = con.execute(
        "select max(changed_at) from staged_history where reject_reason is null"
    ).fetchall()[0][0]
    con.execute("begin transaction")
    try:
        batch_id = _start_batch(con, source, "history", path, fp, snapshot_at, started_at)
        rejected = _write_rejects(con, batch_id, "staged_history", loaded)
        con.execute(
            """
            insert into stage_changes by name
            select ?::varchar as source, deal_id, stage, changed_at, ?::integer as batch_id,
                   min(_row) as source_row
            from staged_history as h
            where reject_reason is null
              and not exists (
                  select 1 from stage_changes as c
                  where c.source = ? and c.deal_id = h.deal_id and c.stage = h.stage
                    and c.changed_at = h.changed_at
              )
            group by deal_id, stage, changed_at
            """,
            [source.name, batch_id, source.name],
        )
        loaded_rows = loaded.rows_read - rejected
        con.execute(
            "create or replace temp table affected_deals as "
            "select distinct deal_id from staged_history where reject_reason is null"
        )
        rebuild_stage_events(con, source.name)
        _finish_batch(con, batch_id, loaded.rows_read, loaded_rows, rejected)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return BatchResult(
        batch_id, path, "history", loaded.rows_read, loaded_rows, rejected, snapshot_at
    )


def rebuild_stage_events(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Recompute deal_stage_events for the deals in temp table `affected_deals`.

    Stints come from recorded stage changes only: consecutive rows in the same stage (history
    written for amount or date edits) collapse into one stint, and a closed deal's last open stint
    ends at its close. A deal with no recorded change gets one `current_only` event.
    """
    con.execute(
        """
        delete from deal_stage_events
        where source = ? and deal_id in (select deal_id from affected_deals)
        """,
        [source],
    )
    con.execute(
        """
        insert into deal_stage_events by name
        with changes as (
            select
                c.deal_id, c.stage, c.changed_at,
                lag(c.stage) over (
                    partition by c.deal_id order by c.changed_at, c.source_row
                ) as previous_stage,
                c.source_row
            from stage_changes as c
            semi join affected_deals as a on c.deal_id = a.deal_id
            where c.source = ?
        ),
        stints as (
            select
                deal_id, stage, changed_at as entered_at,
                lead(changed_at) over (
                    partition by deal_id order by changed_at, source_row
                ) as next_change_at
            from changes
            where previous_stage is distinct from stage
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
            row_number() over (partition by d.deal_id, s.stage order by s.entered_at)::integer
                as stint,
            'history' as origin
        from stints as s
        inner join deals as d on d.source = ? and d.deal_id = s.deal_id
        left join stages as st on st.pipeline = d.pipeline and st.stage = s.stage
        union all
        select
            d.source, d.deal_id, d.pipeline, d.stage, d.stage_order,
            case
                when d.status <> 'open' and d.stage_order is null then d.closed_at
                when d.stage_changed_at is not null then d.stage_changed_at
                when d.stage_order = 1 then d.created_at
            end as entered_at,
            null::timestamp as exited_at,
            1 as stint,
            'current_only' as origin
        from deals as d
        semi join affected_deals as a on d.deal_id = a.deal_id
        where d.source = ?
          and not exists (
              select 1 from stage_changes as c where c.source = ? and c.deal_id = d.deal_id
          )
        """,
        [source, source, source, source],
    )


def _write_stages(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """Configured open stages for every pipeline seen, plus the terminal stages deals carry."""
    stages = list(config.pipeline.stages)
    probabilities = list(config.pipeline.probabilities or [None] * len(stages))
    con.execute("delete from stages")
    con.execute(
        """
        insert into stages by name
        with pipelines as (
            select distinct pipeline from deals
            union select 'default' where not exists (select 1 from deals)
        ),
        open_stages as (
            select unnest(?::varchar[]) as stage, unnest(?::double[]) as default_probability,
                   generate_subscripts(?::varchar[], 1) as stage_order
        )
        select p.pipeline, o.stage, o.stage_order::integer as stage_order,
               false as is_won, false as is_lost, o.default_probability
        from pipelines as p cross join open_stages as o
        union all
        select pipeline, stage, null as stage_order,
               bool_or(status = 'won') as is_won, bool_or(status = 'lost') as is_lost,
               case when bool_or(status = 'won') then 1.0 else 0.0 end as default_probability
        from deals
        where status <> 'open' and coalesce(list_position(?::varchar[], stage), 0) = 0
        group by pipeline, stage
        """,
        [stages, probabilities, stages, stages],
    )


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
            from staged_deals where reject_reason is null
            group by deal_id having count(*) > 1
        ) as d
        where s.deal_id = d.deal_id and s.reject_reason is null and s._row < d.kept_row
        """
    )


def _start_batch(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    object_name: str,
    path: Path,
    fp: FileFingerprint,
    snapshot_at: datetime | None,
    started_at: datetime,
) -> int:
    batch_id = con.execute("select nextval('batch_id_seq')").fetchall()[0][0]
    con.execute(
        """
        insert into ingest_batches (batch_id, source, adapter, object, file_path, file_sha256,
                                    snapshot_at, started_at, status)
        values (?, ?, ?, ?, ?, ?, ?, ?, 'loading')
        """,
        [
            batch_id,
            source.name,
            source.adapter,
            object_name,
            str(path),
            fp.sha256,
            snapshot_at,
            started_at,
        ],
    )
    return int(batch_id)


def _write_rejects(
    con: duckdb.DuckDBPyConnection, batch_id: int, staged: str, loaded: LoadedFile
) -> int:
    """Rejected rows with their line, reason and the raw record as JSON; returns how many."""
    raw_struct = (
        "{"
        + ", ".join(
            f"'{h.replace(chr(39), chr(39) * 2)}': r.\"{h.replace(chr(34), chr(34) * 2)}\""
            for h in loaded.headers
        )
        + "}"
    )
    con.execute(
        f"""
        insert into rejected_rows by name
        select ?::integer as batch_id, s._row as source_row, s.reject_column as column_name,
               s.reject_reason as reason, to_json({raw_struct})::varchar as raw_record
        from {staged} as s
        inner join {loaded.table} as r on r._row = s._row
        where s.reject_reason is not null
        """,
        [batch_id],
    )
    for line, reason, raw in loaded.structural_rejects:
        con.execute(
            "insert into rejected_rows values (?, ?, null, ?, ?)", [batch_id, line, reason, raw]
        )
    return con.execute(
        "select count(*) from rejected_rows where batch_id = ?", [batch_id]
    ).fetchall()[0][0]


def _finish_batch(
    con: duckdb.DuckDBPyConnection, batch_id: int, rows_read: int, rows_loaded: int, rejected: int
) -> None:
    con.execute(
        """
        update ingest_batches
        set rows_read = ?, rows_loaded = ?, rows_rejected = ?,
            finished_at = current_timestamp::timestamp, status = ?
        where batch_id = ?
        """,
        [rows_read, rows_loaded, rejected, LOADED, batch_id],
    )
