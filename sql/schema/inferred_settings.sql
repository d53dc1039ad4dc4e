-- inferred_settings: every setting ingest inferred because the config left it out, replaced
-- when inferred again; basis says from what (a header, the values, the history...).
-- Grain: one row per source and setting. Columns: docs/metrics.md.
create table if not exists inferred_settings (
    source varchar,
    setting varchar,
    value varchar,
    basis varchar,
    batch_id integer
);
