-- loaded_file_checksums: the checksums of the files ingest loaded, which seed a forecast.
-- Grain: distinct file_sha256, sorted.
select distinct file_sha256
from ingest_batches
where status = 'loaded' and file_sha256 is not null
order by file_sha256
