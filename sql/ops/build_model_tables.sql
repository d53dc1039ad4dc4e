-- build_model_tables: the warehouse's tables whose names the build owns (int_*, mart_*), for it to
-- drop those no model builds any more. Grain: one row per table (table_name).
select table_name
from duckdb_tables()
where
    database_name = current_database()
    and schema_name = 'main'
    and not temporary
    and (starts_with(table_name, 'int_') or starts_with(table_name, 'mart_'));
