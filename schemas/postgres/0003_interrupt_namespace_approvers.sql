-- Interlude PostgreSQL schema, version 3: what an interrupt record carries besides its
-- question, kept as the in-memory checkpointer keeps it.
--
--   namespace  the subgraph a question was asked in (`<node>:<task id>`, or `<node>` for a
--              subgraph that keeps one thread; nested ones joined by `|`); NULL at top level
--   approvers  who may answer (`{"users", "roles", "required", "rejection_decides"}`), as the
--              interrupt named them or an escalation step replaced them; NULL: anyone
ALTER TABLE interrupts
    ADD COLUMN namespace text,
    ADD COLUMN approvers jsonb;
