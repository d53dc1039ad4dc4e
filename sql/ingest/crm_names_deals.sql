-- Owner and account ids on a source's deals shown as names, from the CRM's user and account
-- tables loaded into crm_names (Salesforce User.csv, Account.csv). A value is an id when a name
-- row has it: 18-character ids, or their 15-character form (a report writes those).
-- Grain: updates deals, one row per (source, deal_id); values with no matching id stay as they are.
update deals as d
set
    owner = coalesce(r.owner_name, d.owner),
    account = coalesce(r.account_name, d.account)
from (
    select
        x.deal_id,
        u.name as owner_name,
        a.name as account_name
    from deals as x
    left join crm_names as u
        on
            x.source = u.source
            and u.object = 'users'
            and left(x.owner, 15) = left(u.id, 15)
            and length(x.owner) in (15, 18)
            and (length(x.owner) = 15 or x.owner = u.id)
    left join crm_names as a
        on
            x.source = a.source
            and a.object = 'accounts'
            and left(x.account, 15) = left(a.id, 15)
            and length(x.account) in (15, 18)
            and (length(x.account) = 15 or x.account = a.id)
    where x.source = $source and (u.name is not null or a.name is not null)  -- noqa: RF02
) as r
where d.source = $source and d.deal_id = r.deal_id
