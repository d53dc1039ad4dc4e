-- target_run_rows: the targets stored with forecast run $run, as the report lists them.
-- Grain: one row per target (period, owner, pipeline), company-wide first, then by period.
select
    period,
    period_kind,
    period_start,
    period_end,
    owner,
    pipeline,
    target,
    closed_to_date,
    remaining,
    open_pipeline,
    p50,
    p_hit,
    p50_gap,
    coverage,
    required_win_rate
from forecast_targets
where run_id = $run
order by
    owner is not null or pipeline is not null,
    period_start,
    period_end,
    owner nulls first,
    pipeline nulls first
