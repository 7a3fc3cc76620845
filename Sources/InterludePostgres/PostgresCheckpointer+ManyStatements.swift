/// The SQL that serves many threads at once (commits and batched loads), each row carrying
/// its thread id (as the last column of reads, so the single-thread decoders apply).
extension PostgresCheckpointer.Statements {
    /// Commits to one or many threads in one statement (atomic, one round trip): each thread
    /// compares-and-sets its own version (UPDATE when the writer read a version, INSERT for a
    /// new thread; neither when a command of its commit is already final in the ledger, or its id
    /// belongs to another thread's or kind's entry), and
    /// every other row is written only for the threads that won. Ledger entries are inserted,
    /// or updated while `started`. Returns the winners and their new versions. Threads must be
    /// distinct; sorted input keeps row locks in one order. Arrays travel as `unnest`
    /// parameters; rows carry their thread id.
    static let commit = PostgresStatement(
        "checkpointer.commit",
        sql: """
            WITH input AS (
                SELECT * FROM unnest($1::text[], $2::int8[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::int4[], $8::float8[])
                    AS i(thread_id, expected, head, status, failure_reason, graph_name, graph_version, at)
            ), final_commands AS (
                SELECT DISTINCT c.thread_id
                FROM unnest($47::text[], $48::text[], $49::text[]) AS c(command_id, thread_id, kind)
                JOIN command_ledger l ON l.command_id = c.command_id
                 AND (l.status <> 'started' OR l.thread_id <> c.thread_id OR l.kind <> c.kind)
            ), updated AS (
                UPDATE threads t
                SET version = t.version + 1, head = i.head, status = i.status, failure_reason = i.failure_reason,
                    graph_name = i.graph_name, graph_version = i.graph_version, updated_at = i.at
                FROM input i
                WHERE t.thread_id = i.thread_id AND t.version = i.expected AND i.expected > 0
                  AND i.thread_id NOT IN (SELECT thread_id FROM final_commands)
                RETURNING t.thread_id, t.version
            ), created AS (
                INSERT INTO threads (thread_id, graph_name, graph_version, status, failure_reason, head, version, created_at, updated_at)
                SELECT i.thread_id, i.graph_name, i.graph_version, i.status, i.failure_reason, i.head, 1, i.at, i.at
                FROM input i
                WHERE i.expected = 0 AND i.thread_id NOT IN (SELECT thread_id FROM final_commands)
                ON CONFLICT (thread_id) DO NOTHING
                RETURNING thread_id, version
            ), cas AS (
                SELECT thread_id, version FROM updated UNION ALL SELECT thread_id, version FROM created
            ), new_checkpoints AS (
                INSERT INTO checkpoints (thread_id, checkpoint_id, parent_id, step, source, graph_name, graph_version,
                                         channel_versions, versions_seen, metadata, shadowed_metadata, created_at)
                SELECT c.*
                FROM unnest($9::text[], $10::uuid[], $11::uuid[], $12::int4[], $13::text[], $14::text[], $15::int4[],
                            $16::jsonb[], $17::jsonb[], $18::jsonb[], $19::jsonb[], $20::float8[])
                     AS c(thread_id, checkpoint_id, parent_id, step, source, graph_name, graph_version,
                          channel_versions, versions_seen, metadata, shadowed_metadata, created_at)
                WHERE c.thread_id IN (SELECT thread_id FROM cas)
            ), new_blobs AS (
                INSERT INTO channel_blobs (thread_id, channel, version, encoding, base_version, depth, data)
                SELECT b.*
                FROM unnest($21::text[], $22::text[], $23::uuid[], $24::text[], $25::uuid[], $26::int4[], $27::bytea[])
                     AS b(thread_id, channel, version, encoding, base_version, depth, data)
                WHERE b.thread_id IN (SELECT thread_id FROM cas)
                ON CONFLICT DO NOTHING
            ), new_writes AS (
                INSERT INTO pending_writes (thread_id, checkpoint_id, task_id, idx, node, channel, value)
                SELECT w.thread_id, w.checkpoint_id, w.task_id, w.idx, w.node, w.channel, w.value
                FROM unnest($28::text[], $29::uuid[], $30::text[], $31::int4[], $32::text[], $33::text[], $34::bytea[])
                     WITH ORDINALITY AS w(thread_id, checkpoint_id, task_id, idx, node, channel, value, ord)
                WHERE w.thread_id IN (SELECT thread_id FROM cas)
                ORDER BY w.ord
                ON CONFLICT (thread_id, checkpoint_id, task_id, idx)
                DO UPDATE SET node = EXCLUDED.node, channel = EXCLUDED.channel, value = EXCLUDED.value
            ), new_interrupts AS (
                INSERT INTO interrupts (thread_id, interrupt_id, checkpoint_id, task_id, node, value, status,
                                        deadline, on_timeout, created_at, resolved_at, resolved_by, namespace, approvers)
                SELECT i.thread_id, i.interrupt_id, i.checkpoint_id, i.task_id, i.node, i.value, i.status,
                       i.deadline, i.on_timeout, i.created_at, i.resolved_at, i.resolved_by, i.namespace, i.approvers
                FROM unnest($35::text[], $36::text[], $37::uuid[], $38::text[], $39::text[], $40::jsonb[], $41::text[],
                            $42::float8[], $43::jsonb[], $44::float8[], $45::float8[], $46::text[], $58::text[], $59::jsonb[])
                     WITH ORDINALITY AS i(thread_id, interrupt_id, checkpoint_id, task_id, node, value, status,
                                          deadline, on_timeout, created_at, resolved_at, resolved_by, namespace, approvers, ord)
                WHERE i.thread_id IN (SELECT thread_id FROM cas)
                ORDER BY i.ord
                ON CONFLICT (thread_id, interrupt_id) DO UPDATE SET
                    checkpoint_id = EXCLUDED.checkpoint_id, task_id = EXCLUDED.task_id, node = EXCLUDED.node,
                    value = EXCLUDED.value, status = EXCLUDED.status, deadline = EXCLUDED.deadline,
                    on_timeout = EXCLUDED.on_timeout, created_at = EXCLUDED.created_at,
                    resolved_at = EXCLUDED.resolved_at, resolved_by = EXCLUDED.resolved_by,
                    namespace = EXCLUDED.namespace, approvers = EXCLUDED.approvers,
                    -- A deadline moved on (an escalation step) is a new timer: the sweep's lease
                    -- on the old one must not hold the next step back.
                    lease_until = CASE WHEN interrupts.deadline IS DISTINCT FROM EXCLUDED.deadline THEN NULL ELSE interrupts.lease_until END,
                    fire_attempts = CASE WHEN interrupts.deadline IS DISTINCT FROM EXCLUDED.deadline THEN 0 ELSE interrupts.fire_attempts END
            ), new_commands AS (
                INSERT INTO command_ledger (command_id, thread_id, kind, status, outcome, thread_version)
                SELECT l.command_id, l.thread_id, l.kind, l.status, l.outcome, cas.version
                FROM unnest($47::text[], $48::text[], $49::text[], $50::text[], $51::text[])
                     AS l(command_id, thread_id, kind, status, outcome)
                JOIN cas ON cas.thread_id = l.thread_id
                ON CONFLICT (command_id) DO UPDATE SET
                    status = EXCLUDED.status, outcome = EXCLUDED.outcome, thread_version = EXCLUDED.thread_version,
                    updated_at = now(), lease_until = NULL,
                    -- An entry of another thread or kind (one final_commands could not see yet)
                    -- fails the statement (migration 0005), so this commit writes nothing.
                    thread_id = CASE WHEN command_ledger.thread_id = EXCLUDED.thread_id AND command_ledger.kind = EXCLUDED.kind
                        THEN command_ledger.thread_id
                        ELSE interlude_command_id_taken(EXCLUDED.command_id, command_ledger.thread_id, command_ledger.kind) END
                WHERE command_ledger.status = 'started'
                   OR command_ledger.thread_id <> EXCLUDED.thread_id OR command_ledger.kind <> EXCLUDED.kind
            ), new_outbox AS (
                INSERT INTO outbox (id, topic, key, payload, headers)
                SELECT o.id, o.topic, o.key, o.payload, o.headers
                FROM unnest($52::text[], $53::text[], $54::text[], $55::bytea[], $56::jsonb[], $57::text[])
                     WITH ORDINALITY AS o(id, topic, key, payload, headers, thread_id, ord)
                WHERE o.thread_id IN (SELECT thread_id FROM cas)
                ORDER BY o.ord
                ON CONFLICT (id) DO NOTHING
            )
            SELECT thread_id, version FROM cas
            """)

    static let commandsMany = PostgresStatement(
        "checkpointer.commands_many",
        sql: "SELECT command_id, thread_id, kind, status, outcome, attempts FROM command_ledger WHERE command_id = ANY($1)")

    static let threadsMany = PostgresStatement(
        "checkpointer.threads_many",
        sql: """
            SELECT version, head, status, failure_reason, graph_name, graph_version, updated_at, thread_id
            FROM threads WHERE thread_id = ANY($1)
            """)

    /// The head checkpoints of the threads.
    static let headsMany = PostgresStatement(
        "checkpointer.heads_many",
        sql: """
            SELECT c.checkpoint_id, c.parent_id, c.step, c.source, c.graph_name, c.graph_version, c.channel_versions,
                   c.versions_seen, c.metadata, c.shadowed_metadata, c.created_at, c.thread_id
            FROM threads t JOIN checkpoints c ON c.thread_id = t.thread_id AND c.checkpoint_id = t.head
            WHERE t.thread_id = ANY($1)
            """)

    /// The blobs of the head checkpoints' channel versions and every blob down their delta
    /// chains. One head names each channel once, so chains never meet: `UNION ALL` (no
    /// de-duplication of blob bytes) is exact. Every lookup is by primary key (`LATERAL ...
    /// LIMIT 1` keeps the planner from turning it into a scan), whatever the statistics say.
    static let headBlobsMany = PostgresStatement(
        "checkpointer.head_blobs_many",
        sql: """
            WITH RECURSIVE wanted AS (
                SELECT c.thread_id, v.key AS channel, v.value::uuid AS version
                FROM threads t
                JOIN checkpoints c ON c.thread_id = t.thread_id AND c.checkpoint_id = t.head,
                     jsonb_each_text(c.channel_versions) v
                WHERE t.thread_id = ANY($1)
            ), chain AS (
                SELECT b.channel, b.version, b.encoding, b.base_version, b.depth, b.data, b.thread_id
                FROM wanted w
                JOIN LATERAL (SELECT * FROM channel_blobs x
                              WHERE x.thread_id = w.thread_id AND x.channel = w.channel AND x.version = w.version LIMIT 1) b ON true
                UNION ALL
                SELECT b.channel, b.version, b.encoding, b.base_version, b.depth, b.data, b.thread_id
                FROM chain c
                JOIN LATERAL (SELECT * FROM channel_blobs x
                              WHERE x.thread_id = c.thread_id AND x.channel = c.channel AND x.version = c.base_version LIMIT 1) b ON true
            )
            SELECT channel, version, encoding, base_version, depth, data, thread_id FROM chain
            """)

    /// Pending writes saved against the threads' heads.
    static let headWritesMany = PostgresStatement(
        "checkpointer.head_writes_many",
        sql: """
            SELECT w.checkpoint_id, w.task_id, w.idx, w.node, w.channel, w.value, w.thread_id
            FROM threads t JOIN pending_writes w ON w.thread_id = t.thread_id AND w.checkpoint_id = t.head
            WHERE t.thread_id = ANY($1)
            ORDER BY w.seq
            """)

    static let interruptsMany = PostgresStatement(
        "checkpointer.interrupts_many",
        sql: """
            SELECT thread_id, interrupt_id, checkpoint_id, task_id, node, value, status, deadline,
                   on_timeout, created_at, resolved_at, resolved_by, namespace, approvers
            FROM interrupts WHERE thread_id = ANY($1) ORDER BY seq
            """)
}
