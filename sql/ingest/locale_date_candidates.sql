-- locale_date_candidates: temp table date_candidates, the example values $values of a file's
-- date columns that the candidate date layouts are tried on, numbered in order (_row).
-- Grain: one row per value.
create or replace temp table date_candidates as
select
    unnest($values) as candidate,
    generate_subscripts($values, 1) as _row
