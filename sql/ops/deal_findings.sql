-- deal_findings: what `init` says about the loaded deals: how many, the first creation, how many
-- have an amount and how many lack a creation date.
-- Grain: one row.
select
    count(*) as deals,
    min(created_at) as first_created,
    count(amount) as with_amount,
    count(*) filter (where created_at is null) as without_created
from deals
