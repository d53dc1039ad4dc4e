-- infer_stage_order: the order of each pipeline's open stages, inferred from the loaded data.
-- Grain: pipeline x open stage (stage_order 1..n, basis: the rule that decided the order).
-- Parameters: $terminal_names (lower-cased stage names that mean won or lost),
-- $default_stages / $default_positions (the CRMs' default stage lists, lower-cased names),
-- $closed_stage_sources (sources whose CRM puts every closed deal in a closed stage).
-- A stage is terminal, not ordered, when the CRM's stage table marks it closed, its name means
-- won or lost, or a closed deal of such a source is in it. The open stages of
-- a pipeline are ordered by the first rule that ranks every one of them without a tie: the CRM's
-- stage table (source_stages), the CRM's default list, the stage history (a Copeland ranking of
-- pairwise votes: for each deal that entered both stages, the one it entered first comes first),
-- the mean probability of its open deals (higher is later); else, as a guess, the mean age of its
-- open deals (older is later; one with no creation date, not yet engaged, counts as age 0); else
-- the history, probability and age as far as they go, then the names.
with first_entries as (
    select
        d.pipeline,
        c.source,
        c.deal_id,
        c.stage,
        min(c.changed_at) as entered_at
    from stage_changes as c
    inner join deals as d on c.source = d.source and c.deal_id = d.deal_id
    group by d.pipeline, c.source, c.deal_id, c.stage
),

seen as (
    select
        pipeline,
        stage
    from deals
    union
    select
        pipeline,
        stage
    from first_entries
    union
    select
        pipeline,
        stage
    from source_stages
    where not is_closed
),

terminal as (
    select
        s.pipeline,
        s.stage
    from seen as s
    where
        list_contains($terminal_names::varchar[], lower(s.stage))
        or s.stage in (
            select c.stage from source_stages as c
            where c.is_closed
        )
    union
    -- In these CRMs a closed deal is always in a closed stage (elsewhere it keeps its last one).
    select distinct
        d.pipeline,
        d.stage
    from deals as d
    where d.status <> 'open' and list_contains($closed_stage_sources::varchar[], d.source)
),

open_stages as (
    select
        pipeline,
        stage
    from seen
    except
    select
        pipeline,
        stage
    from terminal
),

crm_rank as (
    select
        pipeline,
        stage,
        min(sort_order) as rank_value
    from source_stages
    where not is_closed
    group by pipeline, stage
),

default_rank as (
    select
        unnest($default_stages::varchar[]) as stage_key,
        unnest($default_positions::integer[]) as rank_value
),

votes as (
    select
        a.pipeline,
        a.stage as earlier,
        b.stage as later,
        count(*) as deals
    from first_entries as a
    inner join first_entries as b
        on
            a.source = b.source
            and a.deal_id = b.deal_id
            and a.entered_at < b.entered_at
    group by a.pipeline, a.stage, b.stage
),

duels as (
    select
        o.pipeline,
        o.stage,
        coalesce(w.deals, 0) as wins,
        coalesce(l.deals, 0) as losses
    from open_stages as o
    inner join open_stages as other on o.pipeline = other.pipeline and o.stage <> other.stage
    left join votes as w
        on o.pipeline = w.pipeline and o.stage = w.earlier and other.stage = w.later
    left join votes as l
        on o.pipeline = l.pipeline and other.stage = l.earlier and o.stage = l.later
),

copeland as (
    select
        pipeline,
        stage,
        sum(sign(wins - losses)) as score,
        sum(wins + losses) as votes
    from duels
    group by pipeline, stage
),

deal_facts as (
    select
        pipeline,
        stage,
        coalesce(
            avg(probability) filter (where status = 'open'), avg(probability)
        ) as mean_probability,
        -- A deal without a creation date is one not yet engaged (exports leave it empty until
        -- then): age 0, so the stage such deals sit in comes first.
        avg(coalesce(epoch(snapshot_at - created_at), 0)) filter (
            where status = 'open'
        ) as mean_age
    from deals
    group by pipeline, stage
),

keys as (
    select
        o.pipeline,
        o.stage,
        c.rank_value::double as crm_key,
        r.rank_value::double as default_key,
        f.mean_probability as probability_key,
        f.mean_age as age_key,
        case when h.votes > 0 then -h.score end::double as history_key
    from open_stages as o
    left join crm_rank as c on o.pipeline = c.pipeline and o.stage = c.stage
    left join default_rank as r on lower(o.stage) = r.stage_key
    left join copeland as h on o.pipeline = h.pipeline and o.stage = h.stage
    left join deal_facts as f on o.pipeline = f.pipeline and o.stage = f.stage
),

rules as (
    select
        pipeline,
        case
            when count(crm_key) = count(*) and count(distinct crm_key) = count(*) then 1
            when count(default_key) = count(*) and count(distinct default_key) = count(*) then 2
            when
                count(*) > 1
                and count(history_key) = count(*)
                and count(distinct history_key) = count(*)
                then 3
            when
                count(*) > 1
                and count(probability_key) = count(*)
                and count(distinct probability_key) = count(*)
                then 4
            when
                count(*) > 1
                and count(age_key) = count(*)
                and count(distinct age_key) = count(*)
                then 5
            else 6
        end as rule_number
    from keys
    group by pipeline
)

select
    k.pipeline,
    k.stage,
    row_number() over (
        partition by k.pipeline
        order by
            case r.rule_number
                when 1 then k.crm_key
                when 2 then k.default_key
                when 3 then k.history_key
                when 4 then k.probability_key
                when 5 then k.age_key
            end nulls last,
            k.history_key nulls last,
            k.probability_key nulls last,
            k.age_key nulls last,
            k.stage
    )::integer as stage_order,
    case r.rule_number
        when 1 then 'crm stage table'
        when 2 then 'crm default list'
        when 3 then 'history transitions'
        when 4 then 'probability'
        when 5 then 'deal age'
        else 'guess'
    end as basis
from keys as k
inner join rules as r on k.pipeline = r.pipeline
