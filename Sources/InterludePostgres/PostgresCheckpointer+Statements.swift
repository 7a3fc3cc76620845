/// The checkpointer's SQL. Table names are unqualified: every pooled connection has its
/// `search_path` set to the configured schema. Values are always `$n` parameters.
extension PostgresCheckpointer {
    enum Statements {
        static let thread = PostgresStatement(
            "checkpointer.thread",
            sql: """
                SELECT version, head, status, failure_reason, graph_name, graph_version, updated_at
                FROM threads WHERE thread_id = $1
                """)

        /// A checkpoint by id, or the thread's head when the id is NULL.
        static let checkpoint = PostgresStatement(
            "checkpointer.checkpoint",
            sql: """
                SELECT checkpoint_id, parent_id, step, source, graph_name, graph_version, channel_versions,
                       versions_seen, metadata, shadowed_metadata, created_at
                FROM checkpoints
                WHERE thread_id = $1
                  AND checkpoint_id = COALESCE($2, (SELECT head FROM threads WHERE thread_id = $1))
                """)

        /// Newest first below `$2` (NULL: no bound), whose metadata has every member of `$3`
        /// with an equal value (`@>` narrows, the `jsonb_each` test makes it exact equality).
        static let history = PostgresStatement(
            "checkpointer.history",
            sql: """
                SELECT checkpoint_id, parent_id, step, source, graph_name, graph_version, channel_versions,
                       versions_seen, metadata, shadowed_metadata, created_at
                FROM checkpoints c
                WHERE c.thread_id = $1
                  AND ($2::uuid IS NULL OR c.checkpoint_id < $2)
                  AND c.metadata @> $3
                  AND NOT EXISTS (SELECT 1 FROM jsonb_each($3) f WHERE c.metadata -> f.key IS DISTINCT FROM f.value)
                ORDER BY c.checkpoint_id DESC
                LIMIT $4
                """)

        /// The blobs of the checkpoints' channel versions (`$2`; NULL: the head) and every blob
        /// down their delta chains. Chains of several checkpoints may meet, so the walk
        /// de-duplicates keys (not blob bytes) and fetches each blob once at the end; every
        /// lookup is by primary key (`LATERAL ... LIMIT 1` keeps the planner from turning it
        /// into a scan), whatever the table's statistics say.
        static let blobs = PostgresStatement(
            "checkpointer.blobs",
            sql: """
                WITH RECURSIVE wanted AS (
                    SELECT DISTINCT v.key AS channel, v.value::uuid AS version
                    FROM checkpoints c, jsonb_each_text(c.channel_versions) v
                    WHERE c.thread_id = $1
                      AND c.checkpoint_id = ANY(COALESCE($2::uuid[], ARRAY[(SELECT head FROM threads WHERE thread_id = $1)]))
                ), chain(channel, version, base_version) AS (
                    SELECT b.channel, b.version, b.base_version
                    FROM wanted w
                    JOIN LATERAL (SELECT x.channel, x.version, x.base_version FROM channel_blobs x
                                  WHERE x.thread_id = $1 AND x.channel = w.channel AND x.version = w.version LIMIT 1) b ON true
                    UNION
                    SELECT b.channel, b.version, b.base_version
                    FROM chain c
                    JOIN LATERAL (SELECT x.channel, x.version, x.base_version FROM channel_blobs x
                                  WHERE x.thread_id = $1 AND x.channel = c.channel AND x.version = c.base_version LIMIT 1) b ON true
                )
                SELECT b.channel, b.version, b.encoding, b.base_version, b.depth, b.data
                FROM chain c
                JOIN LATERAL (SELECT * FROM channel_blobs x
                              WHERE x.thread_id = $1 AND x.channel = c.channel AND x.version = c.version LIMIT 1) b ON true
                """)

        static let writes = PostgresStatement(
            "checkpointer.writes",
            sql: """
                SELECT checkpoint_id, task_id, idx, node, channel, value
                FROM pending_writes
                WHERE thread_id = $1
                  AND checkpoint_id = ANY(COALESCE($2::uuid[], ARRAY[(SELECT head FROM threads WHERE thread_id = $1)]))
                ORDER BY seq
                """)

        static let interrupts = PostgresStatement(
            "checkpointer.interrupts",
            sql: """
                SELECT thread_id, interrupt_id, checkpoint_id, task_id, node, value, status, deadline,
                       on_timeout, created_at, resolved_at, resolved_by, namespace, approvers
                FROM interrupts WHERE thread_id = $1 ORDER BY seq
                """)

        /// Claims due deadlines: pending, past `$1`, not leased by another worker (or its lease
        /// ran out), oldest first, at most `$3`; leased until `$2`. Rows another worker is
        /// claiming right now are skipped, not waited for.
        static let claimDueInterrupts = PostgresStatement(
            "checkpointer.claim_due_interrupts",
            sql: """
                UPDATE interrupts i SET lease_until = $2
                FROM (
                    SELECT thread_id, interrupt_id FROM interrupts
                    WHERE status = 'pending' AND deadline IS NOT NULL AND deadline <= $1
                      AND (lease_until IS NULL OR lease_until < $1)
                    ORDER BY deadline, seq
                    LIMIT $3
                    FOR UPDATE SKIP LOCKED
                ) due
                WHERE i.thread_id = due.thread_id AND i.interrupt_id = due.interrupt_id
                RETURNING i.thread_id, i.interrupt_id, i.checkpoint_id, i.task_id, i.node, i.value, i.status,
                          i.deadline, i.on_timeout, i.created_at, i.resolved_at, i.resolved_by, i.namespace, i.approvers
                """)

        /// A claimed deadline that failed to fire at `$3`: retried after 2^attempts seconds (at
        /// most 60); returns the attempts.
        static let deferInterrupt = PostgresStatement(
            "checkpointer.defer_interrupt",
            sql: """
                UPDATE interrupts SET lease_until = $3 + least(60, power(2, fire_attempts + 1)), fire_attempts = fire_attempts + 1
                WHERE thread_id = $1 AND interrupt_id = $2
                RETURNING fire_attempts
                """)

        /// Claims commands left `started` for more than `$1` seconds (server time) that no
        /// other worker holds, oldest first, at most `$3`; leased for `$2` seconds, attempts
        /// counted.
        static let claimStalledCommands = PostgresStatement(
            "checkpointer.claim_stalled_commands",
            sql: """
                UPDATE command_ledger l
                SET lease_until = extract(epoch FROM now()) + $2, attempts = l.attempts + 1
                FROM (
                    SELECT command_id FROM command_ledger
                    WHERE status = 'started' AND updated_at < now() - make_interval(secs => $1)
                      AND (lease_until IS NULL OR lease_until < extract(epoch FROM now()))
                    ORDER BY updated_at
                    LIMIT $3
                    FOR UPDATE SKIP LOCKED
                ) stalled
                WHERE l.command_id = stalled.command_id
                RETURNING l.command_id, l.thread_id, l.kind, l.status, l.outcome, l.attempts
                """)

        /// A command's final ledger entry (inserted, or replacing a `started` one of the same
        /// thread and kind) and its outbox rows, only when the entry was written; returns 1 when
        /// it was, 0 when the entry was already final. An entry of another thread or kind fails
        /// the statement (a unique violation of `command_ledger_pkey`, migration 0005).
        static let finishCommand = PostgresStatement(
            "checkpointer.finish_command",
            sql: """
                WITH entry AS (
                    INSERT INTO command_ledger (command_id, thread_id, kind, status, outcome)
                    VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (command_id) DO UPDATE SET
                        status = EXCLUDED.status, outcome = EXCLUDED.outcome, updated_at = now(), lease_until = NULL,
                        -- Another thread's or kind's entry fails the statement (migration 0005).
                        thread_id = CASE WHEN command_ledger.thread_id = EXCLUDED.thread_id AND command_ledger.kind = EXCLUDED.kind
                            THEN command_ledger.thread_id
                            ELSE interlude_command_id_taken(EXCLUDED.command_id, command_ledger.thread_id, command_ledger.kind) END
                    WHERE command_ledger.status = 'started'
                       OR command_ledger.thread_id <> EXCLUDED.thread_id OR command_ledger.kind <> EXCLUDED.kind
                    RETURNING 1
                ), new_outbox AS (
                    INSERT INTO outbox (id, topic, key, payload, headers)
                    SELECT o.id, o.topic, o.key, o.payload, o.headers
                    FROM unnest($6::text[], $7::text[], $8::text[], $9::bytea[], $10::jsonb[])
                         WITH ORDINALITY AS o(id, topic, key, payload, headers, ord)
                    WHERE EXISTS (SELECT 1 FROM entry)
                    ORDER BY o.ord
                    ON CONFLICT (id) DO NOTHING
                )
                SELECT count(*)::int8 FROM entry
                """)

        static let command = PostgresStatement(
            "checkpointer.command",
            sql: "SELECT command_id, thread_id, kind, status, outcome, attempts FROM command_ledger WHERE command_id = $1")

        static let unpublishedOutbox = PostgresStatement(
            "checkpointer.unpublished_outbox",
            sql: """
                SELECT id, topic, key, payload, headers FROM outbox
                WHERE published_at IS NULL ORDER BY seq LIMIT $1
                """)

        /// Marks rows published, by id; a row marked twice keeps its first time. The statement has
        /// no `published_at IS NULL` condition on purpose: with one, the generic plan read every
        /// entry of the partial index `outbox_unpublished` (which keeps dead entries until a
        /// vacuum) and compared each with every id, so a mark cost grew with the backlog (~50 ms
        /// for 360 ids under load). By id alone it reads through `outbox_id_key`.
        static let markPublished = PostgresStatement(
            "checkpointer.mark_published",
            sql: "UPDATE outbox SET published_at = coalesce(published_at, now()) WHERE id = ANY($1)")

        static let deleteThreadRow = PostgresStatement(
            "checkpointer.delete_thread", sql: "DELETE FROM threads WHERE thread_id = $1")

        /// Batched deletes keep each transaction (and its locks and WAL) small for long threads.
        static let deleteWrites = PostgresStatement(
            "checkpointer.delete_writes",
            sql: """
                DELETE FROM pending_writes WHERE ctid = ANY(ARRAY(
                    SELECT ctid FROM pending_writes WHERE thread_id = $1 LIMIT $2))
                """)
        static let deleteBlobs = PostgresStatement(
            "checkpointer.delete_blobs",
            sql: """
                DELETE FROM channel_blobs WHERE ctid = ANY(ARRAY(
                    SELECT ctid FROM channel_blobs WHERE thread_id = $1 LIMIT $2))
                """)
        static let deleteCheckpoints = PostgresStatement(
            "checkpointer.delete_checkpoints",
            sql: """
                DELETE FROM checkpoints WHERE ctid = ANY(ARRAY(
                    SELECT ctid FROM checkpoints WHERE thread_id = $1 LIMIT $2))
                """)
        static let deleteInterrupts = PostgresStatement(
            "checkpointer.delete_interrupts",
            sql: """
                DELETE FROM interrupts WHERE ctid = ANY(ARRAY(
                    SELECT ctid FROM interrupts WHERE thread_id = $1 LIMIT $2))
                """)

        static let finishedThreads = PostgresStatement(
            "checkpointer.finished_threads",
            sql: """
                SELECT thread_id FROM threads
                WHERE status IN ('completed', 'failed') AND updated_at < $1
                ORDER BY updated_at LIMIT $2
                """)

        static let sweepOutbox = PostgresStatement(
            "checkpointer.sweep_outbox",
            sql: """
                DELETE FROM outbox WHERE seq = ANY(ARRAY(
                    SELECT seq FROM outbox WHERE published_at < $1 ORDER BY seq LIMIT $2))
                """)
    }
}
