-- One row per retraining, written by the replica holding the training lock: when it started
-- and ended, the feedback rows it saw, and what came of it. A row left unfinished is a
-- retraining whose replica died; the next one is due again.
CREATE TABLE tympan_retrainings (
    id            bigserial PRIMARY KEY,
    replica       text NOT NULL,
    cause         text NOT NULL,
    boundary      bigint NOT NULL,
    rows_at_start bigint NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at   timestamptz,
    challenger    text,
    promoted      boolean,
    outcome       text
);
CREATE INDEX tympan_retrainings_finished ON tympan_retrainings (finished_at);
