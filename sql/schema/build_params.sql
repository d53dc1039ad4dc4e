-- build_params: the parameters of the last build, which every model reads.
-- Grain: one row. Columns: docs/metrics.md.
create table if not exists build_params (
    as_of timestamp,
    lookback_days integer,
    currency varchar,
    built_at timestamp,
    fiscal_year_start_month integer,
    lead_expiry_days integer
);
