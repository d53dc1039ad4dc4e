-- Deal event times later than $latest_allowed leave temp table staged_deals (the deals load without
-- them), so they never set the file's snapshot_at. Grain: updates staged_deals, one row per line
-- with such a time.
update staged_deals
set
    created_at = case when created_at > $latest_allowed then null else created_at end,
    closed_at = case when closed_at > $latest_allowed then null else closed_at end,
    stage_changed_at = case
        when stage_changed_at > $latest_allowed then null else stage_changed_at
    end,
    updated_at = case when updated_at > $latest_allowed then null else updated_at end
where greatest(created_at, closed_at, stage_changed_at, updated_at) > $latest_allowed
