-- Deals keyed on their name (a Salesforce export with no Id column) whose name several rows of
-- the file share: all are kept, each keyed on the name and its creation time, normalised ISO
-- ('Acme - Renewal [2023-11-06 11:00:31]'; the day alone at midnight, as a date-only export
-- reads), or 'Acme - Renewal [no created date]'. Where such a key still repeats (no creation
-- time, or the same one) the later lines get ' #2', ' #3', ... in line order: those keys depend
-- on the file's order, so only an export with the Id is sure to keep them. A unique name stays
-- the key. Rejected rows are keyed too, so a name's keys do not change when a row is fixed.
-- A deal an earlier export keyed on its bare name (the name was unique then) keeps that key when
-- its creation time matches, so a name that starts repeating does not leave a copy behind.
-- Grain: updates staged_deals, one row per input line; excluded rows keep their name.
update staged_deals as s
set deal_id = k.deal_key
from (
    select
        _row,
        base_key || case
            when row_number() over (partition by base_key order by _row) > 1
                then ' #' || row_number() over (partition by base_key order by _row)
            else ''
        end as deal_key
    from (
        select
            s._row,
            case
                when count(*) over (partition by s.deal_id) = 1 then s.deal_id
                when known.deal_id is not null then s.deal_id
                else s.deal_id || ' [' || case
                    when s.created_at is null then 'no created date'
                    when s.created_at = s.created_at::date
                        then strftime(s.created_at, '%Y-%m-%d')
                    else strftime(s.created_at, '%Y-%m-%d %H:%M:%S')
                end || ']'
            end as base_key
        from staged_deals as s
        left join (
            select
                deal_id,
                created_at
            from deals
            where source = $source
        ) as known
            on
                s.deal_id = known.deal_id
                and s.created_at is not distinct from known.created_at
        where s.deal_id is not null and s.exclude_reason is null
    ) as named
) as k
where s._row = k._row and s.deal_id is distinct from k.deal_key
