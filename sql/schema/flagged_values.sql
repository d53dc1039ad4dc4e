-- flagged_values: values left out of a row that loaded (an event time after its file was
-- loaded): the row's line, column and value as read, and flag, the mart_data_quality check that
-- reports it.
-- Grain: one row per left-out value. Columns: docs/metrics.md.
create table if not exists flagged_values (
    batch_id integer,
    source_row bigint,
    deal_id varchar,
    column_name varchar,
    value varchar,
    flag varchar
);
