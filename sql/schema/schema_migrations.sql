-- schema_migrations: the migrations in sql/migrations/ this warehouse has had applied, each once.
-- Grain: one row per migration (version, the number its file name starts with).
create table if not exists schema_migrations (
    version integer,
    name varchar,
    applied_at timestamp
);
