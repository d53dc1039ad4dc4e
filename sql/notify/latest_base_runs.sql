-- latest_base_runs: the newest two base forecast runs (scenario NULL), newest first: the run a
-- digest or workbook reads, and the one its alerts compare against.
-- Grain: one row per run (none before the first forecast).
select
    run_id,
    as_of,
    created_at
from forecast_runs
where scenario is null
order by created_at desc nulls last, run_id desc
limit 2
