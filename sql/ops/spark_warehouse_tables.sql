-- spark_warehouse_tables: the warehouse's tables and views, for `build --engine spark` to find
-- the core tables the models read (it stages those as Parquet for Spark). Grain: one row per
-- table or view (table_name).
select table_name
from duckdb_tables()
where database_name = current_database() and schema_name = 'main' and not temporary
union all
select view_name as table_name
from duckdb_views()
where database_name = current_database() and schema_name = 'main' and not temporary
