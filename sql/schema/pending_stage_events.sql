-- pending_stage_events: deals whose stage events must be recomputed: filled in each file's
-- transaction, emptied by the one rebuild at the end of an ingest, so a crash in between is
-- repaired by the next ingest.
-- Grain: one row per source and deal_id. Columns: docs/metrics.md.
create table if not exists pending_stage_events (
    source varchar,
    deal_id varchar
);
