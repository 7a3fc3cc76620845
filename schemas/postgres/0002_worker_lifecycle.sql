-- Interlude PostgreSQL schema, version 2: the worker's command lifecycle and leases.
--
-- The command ledger now records where a command stands, not only that it was seen:
--   started        part of its effect is committed (a node failed and will be retried, a
--                  crash came between commits, an edit waits for its continuation); a
--                  redelivered command in this state is continued, never skipped
--   applied        its effect is fully committed
--   rejected       refused with a reason (a `rejected` event was committed with it)
--   parked         its run kept failing; the thread ended `failed`
--   dead_lettered  the message went to the dead-letter topic
-- Only `started` rows change; the four others are final.

ALTER TABLE command_ledger
    ADD COLUMN thread_version bigint,
    ADD COLUMN attempts       integer NOT NULL DEFAULT 0,
    ADD COLUMN updated_at     timestamptz NOT NULL DEFAULT now(),
    -- Set while a stall sweep continues the command, so only one worker does.
    ADD COLUMN lease_until    double precision;

ALTER TABLE command_ledger
    ADD CONSTRAINT command_ledger_status
    CHECK (status IN ('started', 'applied', 'rejected', 'parked', 'dead_lettered'));

-- The stall sweep: commands left part-way, oldest first.
CREATE INDEX command_ledger_started ON command_ledger (updated_at) WHERE status = 'started';

-- Deadlines are claimed with a lease, so exactly one worker fires each; a firing that fails
-- is retried after a backoff (`lease_until`), and the thread is parked after too many tries.
ALTER TABLE interrupts
    ADD COLUMN lease_until   double precision,
    ADD COLUMN fire_attempts integer NOT NULL DEFAULT 0;
