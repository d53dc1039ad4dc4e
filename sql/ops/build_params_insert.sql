-- build_params_insert: the parameters of the build about to run, which every model reads
-- ($as_of, $lookback_days, $currency, $fiscal_year_start_month, $lead_expiry_days; built now).
-- Grain: one row (the build deletes the previous one first, in the same transaction).
insert into build_params (
    as_of, lookback_days, currency, built_at, fiscal_year_start_month, lead_expiry_days
)
values (
    $as_of, $lookback_days, $currency, current_timestamp::timestamp, $fiscal_year_start_month,
    $lead_expiry_days
);
