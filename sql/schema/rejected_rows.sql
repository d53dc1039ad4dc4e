-- rejected_rows: an input row ingest could not load, with the reason.
-- Grain: one row per rejected row and column (batch_id, source_row). Columns: docs/metrics.md.
create table if not exists rejected_rows (
    batch_id integer,
    source_row bigint,
    column_name varchar,
    reason varchar,
    raw_record varchar
);
