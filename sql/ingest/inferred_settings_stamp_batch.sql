-- inferred_settings_stamp_batch: the settings of source $source inferred while a file was
-- staged (no batch yet) belong to batch $batch_id, the batch that file became. A pipeline's
-- stage order (stages.*) is the warehouse's, inferred from all files, and belongs to none.
-- Grain: updates inferred_settings, one row per setting inferred from the file.
update inferred_settings
set batch_id = $batch_id
where
    source = $source
    and batch_id is null
    and setting not like 'stages.%'
