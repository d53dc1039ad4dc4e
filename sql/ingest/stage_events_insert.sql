-- The stage events (stints) of source $source's deals in temp table affected_deals.
-- A deal with recorded stage changes gets its stints from them: each change starts one, and a
-- closed deal's last open stint ends at its close. Within one file stage_changes keeps only
-- changes; rows of different files ($several_files) can repeat the stage before them, so those
-- repeats are dropped here (in the order changed_at, source_row, origin).
-- A deal without recorded changes gets its stints from the stages its exports showed (origin
-- `snapshots`): a stint starts at the stage change time the export gives when it lies after the
-- previous export, at the close for a closed stage, at creation for the first stage, else at the
-- export that first showed the new stage. Seen in one export (or none showing a change): one
-- `current_only` event. No creation date in the first stage: an unknown start (NULL entered_at).
-- Grain: inserts into deal_stage_events, one row per (source, deal_id, stage, stint).
insert into deal_stage_events by name
with changes as (
    select
        c.deal_id,
        c.stage,
        c.changed_at,
        c.source_row,
        c.origin
    from stage_changes as c
    semi join affected_deals as a on c.deal_id = a.deal_id
    where c.source = $source  -- noqa: RF02
    qualify
        not $several_files  -- noqa: RF02
        or lag(c.stage) over (
            partition by c.deal_id order by c.changed_at, c.source_row, c.origin
        ) is distinct from c.stage
),

history_stints as (
    -- Each change starts a stint; its number counts the deal's earlier stints in the same
    -- stage, computed within the one sort the next change needs.
    select
        c.deal_id,
        c.stage,
        coalesce(c.origin, 'history') as origin,
        c.changed_at as entered_at,
        lead(c.changed_at) over deal_order as next_change_at,
        1 + coalesce(len(list_filter(
            list(c.stage) over (
                deal_order rows between unbounded preceding and 1 preceding
            ),
            lambda earlier: earlier = c.stage  -- noqa: RF03
        )), 0) as stint
    from changes as c
    window deal_order as (
        partition by c.deal_id order by c.changed_at, c.source_row, c.origin
    )
),

deals_with_changes as (
    select distinct c.deal_id
    from stage_changes as c
    semi join affected_deals as a on c.deal_id = a.deal_id
    where c.source = $source  -- noqa: RF02
),

snapshot_deals as materialized (
    select
        s.deal_id,
        count(*) as exports
    from deal_snapshots as s
    semi join affected_deals as a on s.deal_id = a.deal_id
    anti join deals_with_changes as c on s.deal_id = c.deal_id
    where s.source = $source  -- noqa: RF02
    group by s.deal_id
),

snapshot_rows as (
    select
        s.deal_id,
        s.snapshot_at,
        s.stage,
        s.status,
        s.closed_at,
        s.stage_changed_at,
        lag(s.stage) over w as previous_stage,
        lag(s.snapshot_at) over w as previous_snapshot_at
    from deal_snapshots as s
    semi join snapshot_deals as m on s.deal_id = m.deal_id and m.exports > 1
    where s.source = $source  -- noqa: RF02
    window w as (partition by s.deal_id order by s.snapshot_at, s.batch_id)
),

single_export_stints as (
    select
        d.source,
        d.deal_id,
        d.pipeline,
        d.stage,
        d.stage_order,
        d.status,
        d.closed_at,
        case
            when d.status <> 'open' and d.stage_order is null then d.closed_at
            when d.stage_changed_at is not null then d.stage_changed_at
            when d.stage_order = 1 then d.created_at
        end as entered_at
    from deals as d
    semi join snapshot_deals as m on d.deal_id = m.deal_id and m.exports = 1
    where d.source = $source  -- noqa: RF02
),

snapshot_stints as (
    select
        d.source,
        d.deal_id,
        d.pipeline,
        s.stage,
        st.stage_order,
        case
            when s.status <> 'open' and st.stage_order is null then s.closed_at
            when
                s.stage_changed_at is not null
                and (
                    s.previous_snapshot_at is null
                    or s.stage_changed_at > s.previous_snapshot_at
                )
                then s.stage_changed_at
            when s.previous_snapshot_at is null and st.stage_order = 1 then d.created_at
            when s.previous_snapshot_at is not null then s.snapshot_at
        end as entered_at,
        s.snapshot_at,
        count(*) over (partition by d.deal_id) as stints_seen,
        d.status,
        d.closed_at
    from snapshot_rows as s
    inner join deals as d on d.source = $source and s.deal_id = d.deal_id  -- noqa: RF02
    left join stages as st on d.pipeline = st.pipeline and s.stage = st.stage
    where s.previous_stage is distinct from s.stage
),

snapshot_events as (
    select
        *,
        lead(entered_at) over (partition by deal_id order by snapshot_at)
            as next_entered_at,
        row_number() over (partition by deal_id order by snapshot_at desc) = 1 as is_last
    from snapshot_stints
)

select
    d.source,
    d.deal_id,
    d.pipeline,
    s.stage,
    st.stage_order,
    s.entered_at,
    case
        when s.next_change_at is not null then s.next_change_at
        when
            d.status <> 'open' and st.stage_order is not null
            and d.closed_at >= s.entered_at
            then d.closed_at
    end as exited_at,
    s.stint::integer as stint,
    s.origin
from history_stints as s
inner join deals as d on d.source = $source and s.deal_id = d.deal_id  -- noqa: RF02
left join stages as st on d.pipeline = st.pipeline and s.stage = st.stage
union all
select
    source,
    deal_id,
    pipeline,
    stage,
    stage_order,
    entered_at,
    case
        when not is_last then next_entered_at
        when
            status <> 'open' and stage_order is not null
            and closed_at >= entered_at
            then closed_at
    end as exited_at,
    row_number() over (partition by deal_id, stage order by snapshot_at)::integer
        as stint,
    case when stints_seen = 1 then 'current_only' else 'snapshots' end as origin
from snapshot_events
union all
-- Seen in one export only: its current stage is its one known stint (a fast path).
select
    source,
    deal_id,
    pipeline,
    stage,
    stage_order,
    entered_at,
    case
        when
            status <> 'open' and stage_order is not null
            and closed_at >= entered_at
            then closed_at
    end as exited_at,
    1 as stint,
    'current_only' as origin
from single_export_stints
