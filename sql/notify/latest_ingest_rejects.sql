-- latest_ingest_rejects: the input rows rejected by the latest finished `run` or `ingest`
-- command, for a digest sent by `notify` on its own (in `run`, the ingest step's count is used).
-- Grain: one row (none before the first ingest).
select
    run_id,
    coalesce(rows_rejected, 0) as rows_rejected
from runs
where command in ('run', 'ingest') and status != 'running'
order by run_id desc
limit 1
