import Foundation
import Interlude
@testable import InterludePostgres
import Testing

/// The plans PostgreSQL keeps for the statements a worker runs on every command.
@Suite("PostgreSQL query plans", .tags(.postgres), .timeLimit(.minutes(1)))
struct QueryPlanTests {
    /// The statements of every command: the batch load, the batch commit, the outbox mark.
    static let perCommand: [PostgresStatement] = [
        PostgresCheckpointer.Statements.commandsMany, PostgresCheckpointer.Statements.threadsMany,
        PostgresCheckpointer.Statements.headsMany, PostgresCheckpointer.Statements.headBlobsMany,
        PostgresCheckpointer.Statements.headWritesMany, PostgresCheckpointer.Statements.interruptsMany,
        PostgresCheckpointer.Statements.commit, PostgresCheckpointer.Statements.markPublished,
    ]

    /// The statements every worker runs on a timer, whatever the traffic: the deadline, stall,
    /// outbox and retention sweeps.
    static let sweeps: [PostgresStatement] = [
        PostgresCheckpointer.Statements.claimDueInterrupts, PostgresCheckpointer.Statements.deferInterrupt,
        PostgresCheckpointer.Statements.claimStalledCommands, PostgresCheckpointer.Statements.unpublishedOutbox,
        PostgresCheckpointer.Statements.finishedThreads,
    ]

    /// The generic plan of a prepared statement (a session's `plan_cache_mode` is
    /// `force_generic_plan`), made here while the tables are empty, as on a new deployment's
    /// first commands.
    static func genericPlan(of statement: PostgresStatement, index: Int, on connection: PostgresConnection) async throws -> String {
        let parameters = Set(statement.sql.matches(of: /\$([0-9]+)/).compactMap { Int($0.1) }).max() ?? 0
        _ = try await connection.execute(PostgresStatement(name: "test.plan.prepare.\(index)", trustedSQL: "PREPARE plan_\(index) AS \(statement.sql)"))
        let explain = PostgresStatement(
            name: "test.plan.explain.\(index)",
            trustedSQL: "EXPLAIN EXECUTE plan_\(index)" + (parameters == 0 ? "" : "(\(Array(repeating: "NULL", count: parameters).joined(separator: ", ")))"))
        return try await connection.query(explain).map { try $0.decode(String.self, at: 0) }.joined(separator: "\n")
    }

    /// The generic plans of `statements`, made on a fresh schema's empty tables, in order.
    static func genericPlans(of statements: [PostgresStatement]) async throws -> [(statement: PostgresStatement, plan: String)] {
        let checkpointer = try await makeCheckpointer(schema: TestDatabase.freshSchema("plans"), poolSize: 1)
        defer { checkpointer.close() }
        return try await checkpointer.pool.withConnection { connection in
            var plans: [(statement: PostgresStatement, plan: String)] = []
            for (index, statement) in statements.enumerated() {
                plans.append((statement, try await genericPlan(of: statement, index: index, on: connection)))
            }
            return plans
        }
    }

    @Test("On empty tables, the generic plans of the statements run for every command and by the sweeps read the tables through indexes, never by a sequential scan")
    func genericPlansUseIndexes() async throws {
        for (statement, plan) in try await Self.genericPlans(of: Self.perCommand + Self.sweeps) {
            #expect(!plan.contains("Seq Scan"), "\(statement.name) scans a table sequentially in its generic plan:\n\(plan)")
        }
    }

    @Test("The outbox mark looks its rows up by id: its generic plan never reads the partial index of unpublished rows, whose size grows with the backlog")
    func outboxMarkReadsByID() async throws {
        let plan = try await Self.genericPlans(of: [PostgresCheckpointer.Statements.markPublished])[0].plan
        #expect(plan.contains("outbox_id_key"), "the outbox mark does not look its rows up by id:\n\(plan)")
        #expect(!plan.contains("outbox_unpublished"), "the outbox mark reads every unpublished row:\n\(plan)")
    }

    @Test("The review console's list of pending questions, its graph filter and the workers' pending-interrupts gauge (sampled at every metrics scrape) read only pending interrupts (the partial index interrupts_pending), not every interrupt ever raised")
    func pendingReviewsReadPendingOnly() async throws {
        for (statement, plan) in try await Self.genericPlans(of: [ConsoleStatements.pendingReviews, ConsoleStatements.pendingGraphs, OperationStatements.gauges]) {
            #expect(plan.contains("interrupts_pending"), "\(statement.name) does not read the pending interrupts' index:\n\(plan)")
        }
    }

    @Test("A URL's options override the session's settings, as documented")
    func urlOptionsWin() async throws {
        let show = PostgresStatement("test.plan.show", sql: "SELECT current_setting('enable_seqscan'), current_setting('jit'), current_setting('plan_cache_mode')")
        let defaults = try await makeCheckpointer(schema: TestDatabase.freshSchema("plans"), poolSize: 1)
        defer { defaults.close() }
        let row = try await defaults.pool.query(show)[0]
        #expect(try row.decode(String.self, at: 0) == "off")
        #expect(try row.decode(String.self, at: 1) == "off")
        let mode = try row.decode(String.self, at: 2)
        #expect(mode == "force_generic_plan")

        let url = try TestDatabase.url()
        let separator = url.contains("?") ? "&" : "?"
        let overridden = try PostgresCheckpointer(
            configuration: .init(
                url: url + separator + "options=-c%20enable_seqscan%3Don%20-c%20plan_cache_mode%3Dauto", schema: TestDatabase.freshSchema("plans"), poolSize: 1),
            logger: TestDatabase.logger)
        defer { overridden.close() }
        let overriddenRow = try await overridden.pool.query(show)[0]
        #expect(try overriddenRow.decode(String.self, at: 0) == "on")
        #expect(try overriddenRow.decode(String.self, at: 2) == "auto")
    }
}
