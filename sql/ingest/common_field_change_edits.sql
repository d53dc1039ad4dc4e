-- common_field_change_edits: temp table staged_changes, the amount, close-date and status edits
-- of temp view field_change_values (temp table change_rows with the old and new values typed
-- with the file's locale): amounts as numbers, close dates as yyyy-mm-dd, statuses lower-cased.
-- Grain: one row per good line of the file that edits one of those fields.
create or replace temp table staged_changes as
select
    deal_id,
    field_kind as field,
    case field_kind
        when 'amount' then old_amount::varchar
        when 'close_date' then strftime(old_date, '%Y-%m-%d')
        else lower(old_text)
    end as old_value,
    case field_kind
        when 'amount' then new_amount::varchar
        when 'close_date' then strftime(new_date, '%Y-%m-%d')
        else lower(new_text)
    end as new_value,
    changed_at
from field_change_values
where
    field_kind in ('amount', 'close_date', 'status')
    and reject_reason is null
    and exclude_reason is null
