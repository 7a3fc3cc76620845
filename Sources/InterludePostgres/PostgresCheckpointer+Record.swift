import Foundation
import Interlude

extension PostgresCheckpointer {
    /// Commits ledger and outbox rows that touch no thread (a refused command) in one statement.
    /// - Throws: `GraphError` `.duplicateCommand` when a command id is already in the ledger;
    ///   nothing is written then.
    public func record(_ extras: CommitExtras) async throws {
        guard !extras.isEmpty else { return }
        let commands = extras.commands
        let outbox = extras.outbox
        let parameters: [PostgresValue] = [
            .textArray(commands.map(\.commandID)), .textArray(commands.map(\.threadID)), .textArray(commands.map(\.kind)),
            .textArray(commands.map(\.status)), .textArray(commands.map(\.outcome)),
            .textArray(outbox.map(\.id)), .textArray(outbox.map(\.topic)), .textArray(outbox.map(\.key)),
            .byteaArray(outbox.map(\.payload)), .jsonbArray(try outbox.map { try Self.json($0.headers) }),
        ]
        try await storage("record \(commands.count) ledger and \(outbox.count) outbox rows") {
            do {
                _ = try await pool.execute(Self.recordStatement, parameters)
            } catch let error as PostgresError where error.sqlState == .uniqueViolation && error.constraint == "command_ledger_pkey" {
                let id = commands.first?.commandID ?? "?"
                throw GraphError(.duplicateCommand, "command '\(id)' was already applied to thread '\(commands.first?.threadID ?? "?")'", underlying: error)
            }
        }
    }

    static let recordStatement = PostgresStatement(
        "checkpointer.record",
        sql: """
            WITH new_commands AS (
                INSERT INTO command_ledger (command_id, thread_id, kind, status, outcome)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
            )
            INSERT INTO outbox (id, topic, key, payload, headers)
            SELECT o.id, o.topic, o.key, o.payload, o.headers
            FROM unnest($6::text[], $7::text[], $8::text[], $9::bytea[], $10::jsonb[])
                 WITH ORDINALITY AS o(id, topic, key, payload, headers, ord)
            ORDER BY o.ord
            ON CONFLICT (id) DO NOTHING
            """)
}
