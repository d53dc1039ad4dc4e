-- backtest_is_stale: true when a file was loaded after the stored backtest was made, or there is
-- no backtest (or no loaded file) to compare.
-- Grain: one row.
select
    coalesce(
        (select max(created_at) from forecast_backtest)
        < (
            select max(finished_at) from ingest_batches
            where status = 'loaded'
        ),
        true
    ) as stale
