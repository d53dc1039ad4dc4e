-- deal_changes: one recorded edit of a deal field (amount, close date...).
-- Grain: one row per deal, field and change. Columns: docs/metrics.md.
create table if not exists deal_changes (
    source varchar,
    deal_id varchar,
    field varchar,
    old_value varchar,
    new_value varchar,
    changed_at timestamp,
    batch_id integer
);
