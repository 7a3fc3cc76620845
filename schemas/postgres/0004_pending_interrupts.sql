-- Interlude PostgreSQL schema, version 4: the review console's list of pending questions
-- reads only pending interrupts.
--
-- Without it the list (pending, oldest first) and the graphs that have pending questions
-- read every interrupt ever raised: 20,000 rows (26-42 ms) after 20,000 approval runs with
-- nothing pending. The index holds pending rows only, so it stays as small as the queue of
-- open questions. Built inside the migration's transaction: on a large table, writes to
-- `interrupts` wait while it is built.
CREATE INDEX interrupts_pending ON interrupts (created_at, seq) WHERE status = 'pending';
