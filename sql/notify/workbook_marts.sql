-- workbook_marts: the marts the last build wrote, one sheet each in export-xlsx.
-- Grain: one row per mart table, by name.
select table_name
from information_schema.tables
where table_schema = 'main' and table_name like 'mart!_%' escape '!'
order by table_name
