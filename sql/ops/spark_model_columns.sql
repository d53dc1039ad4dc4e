-- spark_model_columns: a model's columns in order, with the types the DuckDB build gives them, for
-- `build --engine spark` to load Spark's rows typed the same. Grain: one row per column.
-- $table_name: the model.
select
    column_name,
    data_type
from duckdb_columns()
where
    database_name = current_database()
    and schema_name = 'main'
    and table_name = $table_name
order by column_index
