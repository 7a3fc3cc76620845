import Foundation
import Interlude

extension PostgresCheckpointer {
    /// Applies a commit in one statement (one round trip, atomic) and returns the new version.
    ///
    /// - Throws: `GraphError` `.threadVersionConflict` when `expectedVersion` is not the stored
    ///   version (0 and the thread exists, or the thread moved on); `.duplicateCommand` when a
    ///   command of the commit is already final in the ledger, or its id is held by another
    ///   thread's or kind's entry. Either way nothing was written.
    public func commit(_ commit: StepCommit) async throws -> Int64 {
        let parameters = try Self.parameters(of: [commit])
        let rows: PostgresRows = try await storage("commit to thread '\(commit.threadID)'") {
            do {
                return try await pool.query(Statements.commit, parameters)
            } catch let error as PostgresError {
                throw Self.commitError(error, commit)
            }
        }
        return try await version(of: rows, commit)
    }

    /// Applies commits to different threads in one round trip, each compared-and-set on its own:
    /// a conflict in one leaves the others applied. Commits to distinct threads go in one
    /// statement; when that statement fails (a value PostgreSQL refuses, say), or commits name a
    /// thread twice, they go again as a libpq pipeline with a sync point after each commit, so
    /// the refusal stays with its own thread. Commits to the same thread must be in order; a
    /// later one fails when an earlier one did.
    /// - Returns: Per commit, the new version or the error ``commit(_:)`` would have thrown.
    /// - Throws: `GraphError` `.storage` when the round trip itself failed (then none of the
    ///   results is known: re-read before retrying).
    public func commitBatch(_ commits: [StepCommit]) async throws -> [Result<Int64, any Error>] {
        guard !commits.isEmpty else { return [] }
        if commits.count > 1, Set(commits.map(\.threadID)).count == commits.count,
            let outcomes = try await commitTogether(commits)
        {
            return outcomes
        }
        return try await commitEach(commits)
    }

    /// One statement for commits to distinct threads; `nil` when the statement failed as a
    /// whole (nothing was written).
    private func commitTogether(_ commits: [StepCommit]) async throws -> [Result<Int64, any Error>]? {
        // One lock order for every batch: fewer deadlocks between racing workers.
        let sorted = commits.sorted { $0.threadID < $1.threadID }
        guard let parameters = try? Self.parameters(of: sorted) else { return nil }
        let rows: PostgresRows
        do {
            rows = try await pool.query(Statements.commit, parameters)
        } catch let error as PostgresError where !error.isRetriable {
            logger.debug("a batched commit was refused as a whole; committing its threads one by one", metadata: ["pg.sqlstate": "\(error.sqlState?.code ?? "")"])
            return nil
        } catch {
            throw GraphError(.storage, "PostgreSQL could not commit \(commits.count) threads: \(error)", underlying: error)
        }
        var versions: [String: Int64] = [:]
        for row in rows { versions[try row.decode(String.self, at: 0)] = try row.decode(Int64.self, at: 1) }
        var outcomes: [Result<Int64, any Error>] = []
        for commit in commits {
            if let version = versions[commit.threadID] {
                outcomes.append(.success(version))
            } else {
                do { outcomes.append(.success(try await version(of: PostgresRows(columns: [], rows: [], affectedRows: 0), commit))) } catch { outcomes.append(.failure(error)) }
            }
        }
        return outcomes
    }

    /// A pipeline of one commit statement per thread, each its own transaction.
    private func commitEach(_ commits: [StepCommit]) async throws -> [Result<Int64, any Error>] {
        var statements: [(PostgresStatement, [PostgresValue])] = []
        var prepared: [Result<Void, any Error>] = []
        for commit in commits {
            do {
                statements.append((Statements.commit, try Self.parameters(of: [commit])))
                prepared.append(.success(()))
            } catch {
                prepared.append(.failure(error))
            }
        }
        let results = try await storage("commit \(statements.count) threads") {
            try await pool.withConnection { try await $0.pipelineEach(statements) }
        }
        var outcomes: [Result<Int64, any Error>] = []
        var next = results.makeIterator()
        for (commit, ready) in zip(commits, prepared) {
            if case .failure(let error) = ready {
                outcomes.append(.failure(error))
                continue
            }
            switch next.next()! {
            case .success(let rows):
                do { outcomes.append(.success(try await version(of: rows, commit))) } catch { outcomes.append(.failure(error)) }
            case .failure(let error):
                let named = Self.commitError(error, commit)
                if let conflict = named as? GraphError, conflict.code == .duplicateCommand {
                    outcomes.append(.failure(conflict))
                    continue
                }
                outcomes.append(.failure(GraphError(.storage, "PostgreSQL could not commit to thread '\(commit.threadID)': \(error.message)", underlying: named)))
            }
        }
        return outcomes
    }

    /// The new version a commit statement returned, or why it wrote nothing.
    private func version(of rows: PostgresRows, _ commit: StepCommit) async throws -> Int64 {
        if let version = try rows.first?.decode(Int64.self, at: 1) { return version }
        let current = try await thread(commit.threadID)?.version ?? 0
        if current == commit.expectedVersion, !commit.extras.commands.isEmpty {
            // The thread was where the writer expected: the ledger guard refused the commit (an
            // entry already final, or held by another thread's or kind's command).
            var blocking = commit.extras.commands[0]
            for command in commit.extras.commands {
                guard let existing = try await self.command(command.commandID) else { continue }
                if existing.status.isFinal || !existing.isSameCommand(as: command) {
                    blocking = existing
                    break
                }
            }
            throw GraphError(.duplicateCommand, "command '\(blocking.commandID)' was already applied to thread '\(blocking.threadID)'")
        }
        throw GraphError(
            .threadVersionConflict,
            "thread '\(commit.threadID)' moved on: expected version \(commit.expectedVersion), found \(current); re-read the thread and try again"
        )
    }

    /// Names the refusals a commit statement can meet by design: a command id another
    /// command holds (a conflict, `.duplicateCommand`), and a checkpoint saved twice (a
    /// programming error).
    private static func commitError(_ error: PostgresError, _ commit: StepCommit) -> any Error {
        if let taken = commandIDTaken(error) { return taken }
        guard error.sqlState == .uniqueViolation && error.constraint == "checkpoints_pkey" else { return error }
        return GraphError(
            .storage,
            "a checkpoint of this commit to thread '\(commit.threadID)' was already saved; saved checkpoints must never change",
            underlying: error)
    }

    /// The commit statement's parameters: thread arrays (one element per commit), then the
    /// rows of every commit, table by table, each table's rows with their thread id.
    static func parameters(of commits: [StepCommit]) throws -> [PostgresValue] {
        var values: [PostgresValue] = [
            .textArray(commits.map(\.threadID)), .int64Array(commits.map(\.expectedVersion)), .uuidArray(commits.map(\.head)),
            .textArray(commits.map(\.status.rawValue)), .textArray(commits.map(\.failureReason)), .textArray(commits.map(\.graph.name)),
            .int32Array(commits.map { Int32($0.graph.version) }), .doubleArray(commits.map(\.committedAt.timeIntervalSince1970)),
        ]
        func owners<T>(_ rows: [(String, T)]) -> [PostgresValue] { [.textArray(rows.map(\.0))] }

        let checkpoints = commits.flatMap { commit in commit.checkpoints.map { (commit.threadID, $0.checkpoint) } }
        var metadata: [Data?] = []
        var shadowed: [Data?] = []
        for (_, checkpoint) in checkpoints {
            metadata.append(JSONValue.object(checkpoint.metadataObject).jsonData)
            let own = checkpoint.metadata.filter { derivedMetadataKeys.contains($0.key) }
            shadowed.append(own.isEmpty ? nil : JSONValue.object(own).jsonData)
        }
        values += owners(checkpoints) + [
            .uuidArray(checkpoints.map(\.1.id)), .uuidArray(checkpoints.map(\.1.parentID)),
            .int32Array(checkpoints.map { Int32($0.1.step) }), .textArray(checkpoints.map(\.1.source.rawValue)),
            .textArray(checkpoints.map(\.1.graph.name)), .int32Array(checkpoints.map { Int32($0.1.graph.version) }),
            .jsonbArray(checkpoints.map { Self.versionsJSON($0.1.channelVersions).jsonData }),
            .jsonbArray(checkpoints.map { JSONValue.object($0.1.versionsSeen.mapValues(Self.versionsJSON)).jsonData }),
            .jsonbArray(metadata), .jsonbArray(shadowed),
            .doubleArray(checkpoints.map(\.1.createdAt.timeIntervalSince1970)),
        ]

        let blobs = commits.flatMap { commit in commit.checkpoints.flatMap(\.blobs).map { (commit.threadID, $0) } }
        values += owners(blobs) + [
            .textArray(blobs.map(\.1.channel)), .uuidArray(blobs.map(\.1.version)),
            .textArray(blobs.map { $0.1.encoding == .full ? "full" : "append_delta" }),
            .uuidArray(blobs.map(\.1.base)), .int32Array(blobs.map { Int32($0.1.depth) }), .byteaArray(blobs.map(\.1.data)),
        ]

        // A later write with the same (checkpoint, task, index) replaces an earlier one in place.
        let writes = commits.flatMap { commit in
            deduplicated(
                commit.writes.flatMap { batch in batch.writes.map { (batch.checkpointID, $0) } },
                key: { WriteKey(checkpoint: $0.0, task: $0.1.taskID, index: $0.1.index) }
            ).map { (commit.threadID, $0) }
        }
        values += owners(writes) + [
            .uuidArray(writes.map(\.1.0)), .textArray(writes.map(\.1.1.taskID)), .int32Array(writes.map { Int32($0.1.1.index) }),
            .textArray(writes.map(\.1.1.node)), .textArray(writes.map(\.1.1.channel)), .byteaArray(writes.map(\.1.1.value)),
        ]

        let interrupts = commits.flatMap { commit in deduplicated(commit.interrupts, key: \.id).map { (commit.threadID, $0) } }
        values += owners(interrupts) + [
            .textArray(interrupts.map(\.1.id)), .uuidArray(interrupts.map(\.1.checkpointID)),
            .textArray(interrupts.map(\.1.taskID)), .textArray(interrupts.map(\.1.node)),
            .jsonbArray(interrupts.map { $0.1.value.jsonData }), .textArray(interrupts.map(\.1.status.rawValue)),
            .doubleArray(interrupts.map { $0.1.deadline?.timeIntervalSince1970 }),
            .jsonbArray(try interrupts.map { try $0.1.onTimeout.map(json) }),
            .doubleArray(interrupts.map(\.1.createdAt.timeIntervalSince1970)),
            .doubleArray(interrupts.map { $0.1.resolvedAt?.timeIntervalSince1970 }),
            .textArray(interrupts.map(\.1.resolvedBy)),
        ]

        // A ledger entry belongs to the thread its commit writes (its own thread id, always).
        let commands = commits.flatMap { commit in deduplicated(commit.extras.commands, key: \.commandID).map { (commit.threadID, $0) } }
        values += [
            .textArray(commands.map(\.1.commandID)), .textArray(commands.map(\.0)),
            .textArray(commands.map(\.1.kind)), .textArray(commands.map(\.1.status.rawValue)), .textArray(commands.map(\.1.outcome)),
        ]

        let outbox = commits.flatMap { commit in commit.extras.outbox.map { (commit.threadID, $0) } }
        values += [
            .textArray(outbox.map(\.1.id)), .textArray(outbox.map(\.1.topic)), .textArray(outbox.map(\.1.key)),
            .byteaArray(outbox.map(\.1.payload)), .jsonbArray(outbox.map { JSONValue.object($0.1.headers.mapValues(JSONValue.string)).jsonData }),
        ] + owners(outbox)
        // Added by migration 0003, so numbered after everything else ($58, $59).
        values += [.textArray(interrupts.map(\.1.namespace)), .jsonbArray(try interrupts.map { try $0.1.approvers.map(json) })]
        return values
    }

    private struct WriteKey: Hashable {
        var checkpoint: CheckpointID
        var task: String
        var index: Int
    }

    /// Keeps the first position of each key with the last value given for it (upsert order),
    /// so one statement never touches the same row twice.
    private static func deduplicated<T, K: Hashable>(_ items: [T], key: (T) -> K) -> [T] {
        var position: [K: Int] = [:]
        var result: [T] = []
        for item in items {
            let k = key(item)
            if let i = position[k] {
                result[i] = item
            } else {
                position[k] = result.count
                result.append(item)
            }
        }
        return result
    }
}
