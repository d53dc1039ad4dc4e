-- crm_names: the CRM's names for the ids its deals exports carry (Salesforce User.csv and
-- Account.csv): object 'users' or 'accounts'; the newest file of an object replaces the source's
-- earlier one.
-- Grain: one row per source, object and id. Columns: docs/metrics.md.
create table if not exists crm_names (
    source varchar,
    object varchar,
    id varchar,
    name varchar,
    batch_id integer
);
