-- The settings each loaded batch of source $source was read with (NULL: loaded before settings
-- were recorded), oldest first. Grain: one row per loaded batch of the source.
select
    batch_id,
    settings_fingerprint,
    settings_json
from ingest_batches
where source = $source and status = $loaded
order by batch_id
