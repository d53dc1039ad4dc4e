-- already_won: the amounts won before as_of by deal type and booking month, from month $since on,
-- whose cash is still to come.
-- Grain: deal_type x month.
select
    deal_type,
    date_trunc('month', closed_at)::date as month,
    -- exact: any order, same sum
    sum(amount_base::decimal(38, 6))::double as amount
from int_deals_as_of
where status = 'won' and amount_base > 0 and closed_at >= $since
group by all
order by all
