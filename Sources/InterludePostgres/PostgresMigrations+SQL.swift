// The migrations in schemas/postgres/, embedded so the library needs no files at run time.
// Keep in sync: copy a new schemas/postgres/NNNN_name.sql here verbatim as a new entry.
// `PostgresMigrationsTests` fails when this text and the files differ.

extension PostgresMigrations {
    /// Every migration this build knows, in version order.
    public static let all: [Migration] = [
        Migration(version: 1, name: "init", sql: migration0001),
        Migration(version: 2, name: "worker_lifecycle", sql: migration0002),
        Migration(version: 3, name: "interrupt_namespace_approvers", sql: migration0003),
        Migration(version: 4, name: "pending_interrupts", sql: migration0004),
        Migration(version: 5, name: "command_id_owner", sql: migration0005),
    ]

    private static let migration0001 = #"""
-- Interlude PostgreSQL schema, version 1.
--
-- Applied by PostgresMigrations inside one transaction, with search_path set to the
-- configured schema (default "interlude"): table names here are unqualified.
-- Append-only: never edit a released migration, add 0002_name.sql instead.
--
-- Times that come from Swift (`Date`) are stored as double precision seconds since
-- 1970-01-01 UTC so they round-trip exactly (timestamptz keeps only microseconds); read
-- them with to_timestamp(column). Bookkeeping times set by the server are timestamptz.
-- Checkpoint and channel versions are UUIDv7 ids stored as uuid: their byte order is their
-- time order, so "ORDER BY checkpoint_id DESC" is newest first.

-- One row per thread: the head the workers compare-and-set.
CREATE TABLE threads (
    thread_id      text PRIMARY KEY,
    graph_name     text NOT NULL,
    graph_version  integer NOT NULL,
    status         text NOT NULL CHECK (status IN ('ready', 'interrupted', 'completed', 'failed')),
    failure_reason text,
    head           uuid NOT NULL,
    -- Bumped by every commit; a commit applies only when it names the current version.
    version        bigint NOT NULL CHECK (version > 0),
    created_at     double precision NOT NULL,
    updated_at     double precision NOT NULL
);

-- The retention sweep: finished threads by age.
CREATE INDEX threads_finished ON threads (updated_at) WHERE status IN ('completed', 'failed');

CREATE TABLE checkpoints (
    thread_id         text NOT NULL,
    checkpoint_id     uuid NOT NULL,
    parent_id         uuid,
    step              integer NOT NULL,
    source            text NOT NULL CHECK (source IN ('input', 'loop', 'update', 'fork')),
    graph_name        text NOT NULL,
    graph_version     integer NOT NULL,
    -- {"channel": "version uuid", ...}
    channel_versions  jsonb NOT NULL,
    -- {"node": {"channel": "version uuid", ...}, ...}
    versions_seen     jsonb NOT NULL,
    -- Checkpoint.metadataObject: the caller's metadata with "source" and "step" merged in,
    -- which is what history filters match.
    metadata          jsonb NOT NULL,
    -- The caller's own "source"/"step" members, which metadataObject overrides (rarely set).
    shadowed_metadata jsonb,
    created_at        double precision NOT NULL,
    -- Also the index for "latest checkpoint of a thread" and history paging (backward scan).
    PRIMARY KEY (thread_id, checkpoint_id)
);

-- Channel values by version; a checkpoint stores only the channels its step changed.
CREATE TABLE channel_blobs (
    thread_id    text NOT NULL,
    channel      text NOT NULL,
    version      uuid NOT NULL,
    -- 'full': data is the whole value; 'append_delta': data is a JSON array appended to the
    -- value at base_version (NULL base: appended to empty).
    encoding     text NOT NULL CHECK (encoding IN ('full', 'append_delta')),
    base_version uuid,
    depth        integer NOT NULL,
    data         bytea NOT NULL,
    PRIMARY KEY (thread_id, channel, version)
);

-- Writes of tasks saved against the checkpoint they ran from; upserted by (task_id, idx).
CREATE TABLE pending_writes (
    thread_id     text NOT NULL,
    checkpoint_id uuid NOT NULL,
    task_id       text NOT NULL,
    idx           integer NOT NULL,
    node          text NOT NULL,
    channel       text NOT NULL,
    value         bytea NOT NULL,
    -- Insertion order; a replaced write keeps its place.
    seq           bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (thread_id, checkpoint_id, task_id, idx)
);

-- Every interrupt a thread raised; pending ones with a deadline are the timer index.
CREATE TABLE interrupts (
    thread_id     text NOT NULL,
    interrupt_id  text NOT NULL,
    checkpoint_id uuid NOT NULL,
    task_id       text NOT NULL,
    node          text NOT NULL,
    value         jsonb NOT NULL,
    status        text NOT NULL CHECK (status IN ('pending', 'resolved', 'expired', 'cancelled')),
    deadline      double precision,
    on_timeout    jsonb,
    created_at    double precision NOT NULL,
    resolved_at   double precision,
    resolved_by   text,
    -- Order raised; a replaced record keeps its place.
    seq           bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (thread_id, interrupt_id)
);

-- The timer sweep: pending interrupts by deadline.
CREATE INDEX interrupts_due ON interrupts (deadline) WHERE status = 'pending' AND deadline IS NOT NULL;

-- Idempotency: one row per command applied or refused. Kept when a thread is deleted.
CREATE TABLE command_ledger (
    command_id text PRIMARY KEY,
    thread_id  text NOT NULL,
    kind       text NOT NULL,
    status     text NOT NULL,
    outcome    text,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The transactional outbox: events committed with the step that caused them.
CREATE TABLE outbox (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           text NOT NULL UNIQUE,
    topic        text NOT NULL,
    key          text NOT NULL,
    payload      bytea NOT NULL,
    headers      jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);

-- The relay: unpublished messages, oldest first.
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
"""#

    private static let migration0002 = #"""
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
"""#

    private static let migration0003 = #"""
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
"""#

    private static let migration0004 = #"""
-- Interlude PostgreSQL schema, version 4: the review console's list of pending questions
-- reads only pending interrupts.
--
-- Without it the list (pending, oldest first) and the graphs that have pending questions
-- read every interrupt ever raised: 20,000 rows (26-42 ms) after 20,000 approval runs with
-- nothing pending. The index holds pending rows only, so it stays as small as the queue of
-- open questions. Built inside the migration's transaction: on a large table, writes to
-- `interrupts` wait while it is built.
CREATE INDEX interrupts_pending ON interrupts (created_at, seq) WHERE status = 'pending';
"""#

    private static let migration0005 = #"""
-- Interlude PostgreSQL schema, version 5: a command id belongs to one command.
--
-- A ledger entry records one command: its id, thread and kind. A different command that
-- reuses the id (another thread or kind) must never write under it. The commit statement
-- already refuses one whose id it sees taken; this function covers the entry it cannot see
-- yet (inserted by a transaction still open when the statement began): the statement's
-- `ON CONFLICT` update calls it for an entry of another owner, and it fails the whole
-- statement as a unique violation of the ledger's key, so nothing of that commit is written.
CREATE FUNCTION interlude_command_id_taken(command_id text, owner_thread text, owner_kind text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'command id % is already used by a % command of thread %', command_id, owner_kind, owner_thread
        USING ERRCODE = 'unique_violation', CONSTRAINT = 'command_ledger_pkey',
              HINT = 'command ids must be unique: send the command again with a new id';
END
$$;
"""#
}
