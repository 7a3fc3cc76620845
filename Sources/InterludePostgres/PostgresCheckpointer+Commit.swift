import Foundation
import Interlude

extension PostgresCheckpointer {
    /// Applies a commit in one statement (one round trip, atomic) and returns the new version.
    ///
    /// - Throws: `GraphError` `.threadVersionConflict` when `expectedVersion` is not the stored
    ///   version (0 and the thread exists, or the thread moved on); `.duplicateCommand` when a
    ///   command of the commit is already final in the ledger. Either way nothing was written.
    public func commit(_ commit: StepCommit) async throws -> Int64 {
        let parameters = try Self.parameters(of: commit)
        let rows: PostgresRows = try await storage("commit to thread '\(commit.threadID)'") {
            do {
                return try await pool.query(Statements.commit, parameters)
            } catch let error as PostgresError {
                throw Self.commitError(error, commit)
            }
        }
        return try await version(of: rows, commit)
    }

    /// Applies commits to different threads in one round trip, each atomic on its own (a
    /// libpq pipeline with a sync point after each commit): a conflict or a refused value in
    /// one leaves the others applied. Commits to the same thread must be in order; a later
    /// one fails when an earlier one did.
    /// - Returns: Per commit, the new version or the error ``commit(_:)`` would have thrown.
    /// - Throws: `GraphError` `.storage` when the round trip itself failed (then none of the
    ///   results is known: re-read before retrying).
    public func commitBatch(_ commits: [StepCommit]) async throws -> [Result<Int64, any Error>] {
        guard !commits.isEmpty else { return [] }
        var statements: [(PostgresStatement, [PostgresValue])] = []
        var prepared: [Result<Void, any Error>] = []
        for commit in commits {
            do {
                statements.append((Statements.commit, try Self.parameters(of: commit)))
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
                outcomes.append(.failure(GraphError(.storage, "PostgreSQL could not commit to thread '\(commit.threadID)': \(error.message)", underlying: Self.commitError(error, commit))))
            }
        }
        return outcomes
    }

    /// The new version a commit statement returned, or why it wrote nothing.
    private func version(of rows: PostgresRows, _ commit: StepCommit) async throws -> Int64 {
        if let version = try rows.first?.decode(Int64.self, at: 0) { return version }
        let current = try await thread(commit.threadID)?.version ?? 0
        if current == commit.expectedVersion, !commit.extras.commands.isEmpty {
            // The thread was where the writer expected: the ledger guard refused the commit.
            var final = commit.extras.commands[0]
            for command in commit.extras.commands where try await self.command(command.commandID)?.status.isFinal == true {
                final = command
                break
            }
            throw GraphError(.duplicateCommand, "command '\(final.commandID)' was already applied to thread '\(final.threadID)'")
        }
        throw GraphError(
            .threadVersionConflict,
            "thread '\(commit.threadID)' moved on: expected version \(commit.expectedVersion), found \(current); re-read the thread and try again"
        )
    }

    /// Names the one refusal a commit statement can meet that is a programming error.
    private static func commitError(_ error: PostgresError, _ commit: StepCommit) -> any Error {
        guard error.sqlState == .uniqueViolation && error.constraint == "checkpoints_pkey" else { return error }
        return GraphError(
            .storage,
            "a checkpoint of this commit to thread '\(commit.threadID)' was already saved; saved checkpoints must never change",
            underlying: error)
    }

    /// The commit statement's parameters, in `$n` order.
    static func parameters(of commit: StepCommit) throws -> [PostgresValue] {
        var values: [PostgresValue] = [
            .text(commit.threadID), .int64(commit.expectedVersion), .uuid(commit.head), .text(commit.status.rawValue),
            .text(commit.failureReason), .text(commit.graph.name), .int32(Int32(commit.graph.version)),
            .double(commit.committedAt.timeIntervalSince1970),
        ]

        let checkpoints = commit.checkpoints.map(\.checkpoint)
        var metadata: [Data?] = []
        var shadowed: [Data?] = []
        for checkpoint in checkpoints {
            metadata.append(JSONValue.object(checkpoint.metadataObject).jsonData)
            let own = checkpoint.metadata.filter { derivedMetadataKeys.contains($0.key) }
            shadowed.append(own.isEmpty ? nil : JSONValue.object(own).jsonData)
        }
        values += [
            .uuidArray(checkpoints.map(\.id)), .uuidArray(checkpoints.map(\.parentID)),
            .int32Array(checkpoints.map { Int32($0.step) }), .textArray(checkpoints.map(\.source.rawValue)),
            .textArray(checkpoints.map(\.graph.name)), .int32Array(checkpoints.map { Int32($0.graph.version) }),
            .jsonbArray(checkpoints.map { Self.versionsJSON($0.channelVersions).jsonData }),
            .jsonbArray(checkpoints.map { JSONValue.object($0.versionsSeen.mapValues(Self.versionsJSON)).jsonData }),
            .jsonbArray(metadata), .jsonbArray(shadowed),
            .doubleArray(checkpoints.map(\.createdAt.timeIntervalSince1970)),
        ]

        let blobs = commit.checkpoints.flatMap(\.blobs)
        values += [
            .textArray(blobs.map(\.channel)), .uuidArray(blobs.map(\.version)),
            .textArray(blobs.map { $0.encoding == .full ? "full" : "append_delta" }),
            .uuidArray(blobs.map(\.base)), .int32Array(blobs.map { Int32($0.depth) }), .byteaArray(blobs.map(\.data)),
        ]

        // A later write with the same (checkpoint, task, index) replaces an earlier one in place.
        let writes = deduplicated(
            commit.writes.flatMap { batch in batch.writes.map { (batch.checkpointID, $0) } },
            key: { WriteKey(checkpoint: $0.0, task: $0.1.taskID, index: $0.1.index) })
        values += [
            .uuidArray(writes.map(\.0)), .textArray(writes.map(\.1.taskID)), .int32Array(writes.map { Int32($0.1.index) }),
            .textArray(writes.map(\.1.node)), .textArray(writes.map(\.1.channel)), .byteaArray(writes.map(\.1.value)),
        ]

        let interrupts = deduplicated(commit.interrupts, key: \.id)
        values += [
            .textArray(interrupts.map(\.id)), .uuidArray(interrupts.map(\.checkpointID)),
            .textArray(interrupts.map(\.taskID)), .textArray(interrupts.map(\.node)),
            .jsonbArray(interrupts.map { $0.value.jsonData }), .textArray(interrupts.map(\.status.rawValue)),
            .doubleArray(interrupts.map { $0.deadline?.timeIntervalSince1970 }),
            .jsonbArray(try interrupts.map { try $0.onTimeout.map(json) }),
            .doubleArray(interrupts.map(\.createdAt.timeIntervalSince1970)),
            .doubleArray(interrupts.map { $0.resolvedAt?.timeIntervalSince1970 }),
            .textArray(interrupts.map(\.resolvedBy)),
        ]

        let commands = deduplicated(commit.extras.commands, key: \.commandID)
        values += [
            .textArray(commands.map(\.commandID)), .textArray(commands.map(\.threadID)), .textArray(commands.map(\.kind)),
            .textArray(commands.map(\.status.rawValue)), .textArray(commands.map(\.outcome)),
        ]

        let outbox = commit.extras.outbox
        values += [
            .textArray(outbox.map(\.id)), .textArray(outbox.map(\.topic)), .textArray(outbox.map(\.key)),
            .byteaArray(outbox.map(\.payload)), .jsonbArray(try outbox.map { try json($0.headers) }),
        ]
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
