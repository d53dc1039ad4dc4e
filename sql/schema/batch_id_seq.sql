-- batch_id_seq: hands out ingest_batches.batch_id, one id per new row.
create sequence if not exists batch_id_seq start 1;
