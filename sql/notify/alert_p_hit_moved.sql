-- alert_p_hit_moved: the targets whose P(hit) moved by $points or more (0.10 = 10 points) from
-- base forecast run $previous to base run $run, matched on period, owner and pipeline. Rounded
-- to 1e-9 first, so a move of exactly 10 points counts despite floating point.
-- Grain: one row per target that moved, biggest move first.
select
    cur.period,
    cur.owner,
    cur.pipeline,
    prev.p_hit as previous_p_hit,
    cur.p_hit
from forecast_targets as cur
inner join forecast_targets as prev
    on
        cur.period = prev.period
        and cur.owner is not distinct from prev.owner
        and cur.pipeline is not distinct from prev.pipeline
where
    cur.run_id = $run  -- noqa: RF02
    and prev.run_id = $previous  -- noqa: RF02
    and round(abs(cur.p_hit - prev.p_hit), 9) >= $points  -- noqa: RF02
order by abs(cur.p_hit - prev.p_hit) desc, cur.period asc, cur.owner asc, cur.pipeline asc
