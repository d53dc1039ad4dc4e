-- run_id_seq: hands out runs.run_id, one id per new row.
create sequence if not exists run_id_seq start 1;
