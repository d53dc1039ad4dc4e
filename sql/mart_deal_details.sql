-- mart_deal_details: who and what each deal is, as the CRM last exported it: the name, account,
-- owner, stage and amount that lists of deals show beside forecast numbers (the report's biggest
-- deals behind the forecast, and the deals that moved it since the previous run).
-- Grain: deal (source, deal_id), every deal in the warehouse, open or closed.
-- Not restated as of build_params.as_of: these are labels for deals a forecast run names, and a
-- run may be as of another moment than the build (a deal won or gone since still has its name).
select
    source,
    deal_id,
    name,
    account,
    owner,
    stage,
    amount_base
from deals
order by source, deal_id
