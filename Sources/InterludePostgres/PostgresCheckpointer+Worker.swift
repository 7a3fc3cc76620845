import Foundation
import Interlude

/// What a worker keeps beside graph state: the command ledger, leases, batched loads. These
/// back `InterludeWorker`'s `WorkerStore`; graphs never call them.
extension PostgresCheckpointer {
    /// Writes a command's final ledger entry and its outbox rows in one statement, touching no
    /// thread (a refusal, a dead letter, a stall that is given up).
    /// - Returns: `false` when the command's entry was already final: nothing was written.
    /// - Throws: `GraphError` `.duplicateCommand` when the id is held by an entry of another
    ///   thread or kind (nothing written).
    public func finishCommand(_ record: CommandRecord, outbox: [OutboxMessage]) async throws -> Bool {
        let parameters: [PostgresValue] = [
            .text(record.commandID), .text(record.threadID), .text(record.kind), .text(record.status.rawValue), .text(record.outcome),
            .textArray(outbox.map(\.id)), .textArray(outbox.map(\.topic)), .textArray(outbox.map(\.key)),
            .byteaArray(outbox.map(\.payload)), .jsonbArray(try outbox.map { try Self.json($0.headers) }),
        ]
        return try await storage("record the outcome of command '\(record.commandID)'") {
            try await pool.query(Statements.finishCommand, parameters).first?.decode(Int64.self, at: 0) == 1
        }
    }

    /// Claims pending interrupts whose deadline is at or before `date` and that no other worker
    /// holds, oldest deadline first, leasing them until `leaseUntil`. Two workers sweeping at
    /// once never get the same interrupt.
    public func claimDueInterrupts(at date: Date, leaseUntil: Date, limit: Int) async throws -> [InterruptRecord] {
        try await storage("claim due deadlines") {
            try await pool.query(
                Statements.claimDueInterrupts,
                [.double(date.timeIntervalSince1970), .double(leaseUntil.timeIntervalSince1970), .int(limit)]
            ).map(Self.decodeInterrupt)
        }
    }

    /// A claimed deadline could not be fired at `date`: it becomes claimable again after a
    /// backoff of 2^attempts seconds (at most 60).
    /// - Returns: The failed attempts so far.
    public func deferInterrupt(thread threadID: String, id: String, after date: Date) async throws -> Int {
        try await storage("defer the deadline of interrupt '\(id)'") {
            try await pool.query(Statements.deferInterrupt, [.text(threadID), .text(id), .double(date.timeIntervalSince1970)])
                .first?.decode(Int.self, at: 0) ?? 0
        }
    }

    /// Claims commands left `started` for longer than `stalledFor` (server time) that no other
    /// worker holds, oldest first, leasing them for `leaseFor` and counting the attempt.
    public func claimStalledCommands(stalledFor: Duration, leaseFor: Duration, limit: Int) async throws -> [CommandRecord] {
        try await storage("claim stalled commands") {
            try await pool.query(
                Statements.claimStalledCommands, [.double(stalledFor.seconds), .double(leaseFor.seconds), .int(limit)]
            ).map(Self.decodeCommand)
        }
    }

    /// Opens every connection of the pool and runs on each the statements of every command
    /// (the batch load, the batch commit, marking outbox rows published) on values that match
    /// nothing, so each connection has them prepared and its server process has read the
    /// tables' catalog entries. Without it the first resumes after a worker started took 24-36
    /// ms against 12 ms for the rest (`interlude dev --auto-approve 200 --rate 20`).
    public func warm() async throws {
        let nothing = PostgresValue.textArray([""])
        let load = [Statements.commandsMany, Statements.threadsMany, Statements.headsMany, Statements.headBlobsMany, Statements.headWritesMany, Statements.interruptsMany]
        let commit = try Self.parameters(of: [])
        // Nested, so every connection is held until all were used: each is a different one.
        func warm(_ remaining: Int) async throws {
            guard remaining > 0 else { return }
            try await pool.withConnection { connection in
                _ = try await connection.pipeline(load.map { ($0, [nothing]) })
                _ = try await connection.query(Statements.commit, commit)
                _ = try await connection.execute(Statements.markPublished, [nothing])
                try await warm(remaining - 1)
            }
        }
        try await storage("ready \(configuration.poolSize) connections") { try await warm(configuration.poolSize) }
    }

    /// For each (command, thread): the command's ledger entry and the thread as a run starts
    /// from it (record, head checkpoint with blobs and writes, interrupts), all in one round
    /// trip: six statements over arrays of ids, whatever the number of commands, in one libpq
    /// pipeline.
    public func loadCommands(_ requests: [(commandID: String, threadID: String)]) async throws -> [(CommandRecord?, ThreadSnapshot?)] {
        guard !requests.isEmpty else { return [] }
        let threads = PostgresValue.textArray(Array(Set(requests.map(\.threadID))))
        return try await storage("load \(requests.count) commands") {
            let r = try await pool.withConnection { connection in
                try await connection.pipeline([
                    (Statements.commandsMany, [.textArray(requests.map(\.commandID))]),
                    (Statements.threadsMany, [threads]),
                    (Statements.headsMany, [threads]),
                    (Statements.headBlobsMany, [threads]),
                    (Statements.headWritesMany, [threads]),
                    (Statements.interruptsMany, [threads]),
                ])
            }
            var commands: [String: CommandRecord] = [:]
            for row in r[0] {
                let command = try Self.decodeCommand(row)
                commands[command.commandID] = command
            }
            /// Rows of one statement by thread id, found in column `column`.
            func byThread(_ rows: PostgresRows, _ column: Int) throws -> [String: [PostgresRow]] {
                var grouped: [String: [PostgresRow]] = [:]
                for row in rows { grouped[try row.decode(String.self, at: column), default: []].append(row) }
                return grouped
            }
            let records = try byThread(r[1], 7)
            let heads = try byThread(r[2], 11)
            let blobs = try byThread(r[3], 6)
            let writes = try byThread(r[4], 6)
            let interrupts = try byThread(r[5], 0)
            return try requests.map { request in
                let command = commands[request.commandID]
                guard let row = records[request.threadID]?.first else { return (command, nil) }
                let tuple = try heads[request.threadID]?.first.map {
                    try Self.tuple(try Self.decodeCheckpoint($0), blobRows: blobs[request.threadID] ?? [], writeRows: writes[request.threadID] ?? [])
                }
                let snapshot = ThreadSnapshot(
                    record: try Self.decodeThread(request.threadID, row), tuple: tuple,
                    interrupts: try (interrupts[request.threadID] ?? []).map(Self.decodeInterrupt))
                return (command, snapshot)
            }
        }
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
