-- data_quality_errors: the checks of mart_data_quality whose errors affect some deal, which the
-- build step logs as warnings.
-- Grain: check_name.
select
    check_name,
    deals_affected
from mart_data_quality
where severity = 'error' and deals_affected > 0
