-- Lines of a file that could not be read as records (a broken quote, too many fields): their
-- line, reason and raw text ($lines, $reasons, $raw_records, in step), for batch $batch_id.
-- Grain: inserts into rejected_rows, one row per such line.
insert into rejected_rows by name
select
    $batch_id::integer as batch_id,
    unnest($lines::bigint[]) as source_row,
    null::varchar as column_name,
    unnest($reasons::varchar[]) as reason,
    unnest($raw_records::varchar[]) as raw_record
