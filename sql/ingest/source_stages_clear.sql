-- Before a file's stage metadata (temp table staged_stages) is written: remove the rows it
-- replaces. A deals file replaces earlier deals files' rows for the stages it shows; a stage
-- table (OpportunityStage, $from_stage_table) replaces the previous stage table whole and any
-- deals-file row for a stage it names, since the org's own table wins per stage.
-- Grain: deletes from source_stages, one row per (source, pipeline, stage).
delete from source_stages as s
where
    s.source = $source
    and (
        (
            $from_stage_table
            and s.batch_id in (
                select b.batch_id from ingest_batches as b
                where b.source = $source and b.object = 'stages'
            )
        )
        or (
            exists (
                select 1 from staged_stages as n
                where n.pipeline = s.pipeline and n.stage = s.stage
            )
            and s.batch_id not in (
                select b.batch_id from ingest_batches as b
                where b.source = $source and b.object = 'stages'
            )
        )
    )
