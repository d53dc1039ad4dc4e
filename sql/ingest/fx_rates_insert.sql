-- The exchange rates of the config and its rates file ($currencies, $valid_from, $rates, in step)
-- replace fx_rates. Grain: inserts into fx_rates, one row per (currency, valid_from).
insert into fx_rates
select
    unnest($currencies::varchar[]) as currency,
    unnest($valid_from::date[]) as valid_from,
    unnest($rates::double[]) as rate_to_base
