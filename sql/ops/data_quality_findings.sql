-- data_quality_findings: the checks of the last build's mart_data_quality that found errors or
-- warnings, errors first, then by the deals affected.
-- Grain: check_name.
select
    severity,
    check_name,
    deals_affected,
    sample_ids,
    explanation
from mart_data_quality
where severity in ('error', 'warning') and deals_affected > 0
order by severity = 'error' desc, deals_affected desc, check_name asc
