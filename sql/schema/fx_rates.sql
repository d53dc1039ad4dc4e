-- fx_rates: rates to the reporting currency.
-- Grain: one row per currency and valid_from. Columns: docs/metrics.md.
create table if not exists fx_rates (
    currency varchar,
    valid_from date,
    rate_to_base double
);
