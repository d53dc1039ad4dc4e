-- forecast_bookings: forecast bookings.
-- Grain: one row per run_id, month and component. Columns: docs/metrics.md.
create table if not exists forecast_bookings (
    run_id integer,
    month date,
    component varchar,
    mean double,
    p10 double,
    p50 double,
    p90 double
);
