import Foundation
import Interlude
import InterludePostgres
import InterludeWorker
import Logging
import Testing

/// The batch path's cost in PostgreSQL round trips: a count, never a time.
@Suite("Batch round trips", .tags(.worker), .timeLimit(.minutes(2)))
struct BatchRoundTripTests {
    let topics = TopicNames()

    /// Runs (then resumes) `count` new threads through one batch each and returns the round
    /// trips each batch made.
    func roundTrips(_ processor: CommandProcessor, _ store: PostgresCheckpointer, count: Int, prefix: String) async throws -> (runs: Int, resumes: Int) {
        let threads = (0..<count).map { "\(prefix)-\($0)" }
        let runs = threads.map {
            CommandProcessor.BatchItem(command: CommandMessage(id: "run-\($0)", threadID: $0, body: .run(graph: "approval", input: ["draft": "Ann"], config: nil, ifBusy: .reject)), topic: topics.runs)
        }
        let resumes = threads.map {
            CommandProcessor.BatchItem(command: CommandMessage(id: "ok-\($0)", threadID: $0, body: .resume(value: true, values: nil, checkpointID: nil)), topic: topics.resumes)
        }
        var before = store.pool.roundTrips.total
        for outcome in await processor.processBatch(runs) {
            guard case .processed(let processed) = outcome, processed.result == .applied(.interrupted) else {
                Issue.record("expected every run applied by the batch, got \(outcome)")
                continue
            }
        }
        let runTrips = store.pool.roundTrips.total - before
        before = store.pool.roundTrips.total
        for outcome in await processor.processBatch(resumes) {
            guard case .processed(let processed) = outcome, processed.result == .applied(.completed) else {
                Issue.record("expected every resume applied by the batch, got \(outcome)")
                continue
            }
        }
        return (runTrips, store.pool.roundTrips.total - before)
    }

    @Test("a batch of N runs or N resumes makes two round trips (load, commit), whatever N")
    func boundedRoundTrips() async throws {
        guard let url = ProcessInfo.processInfo.environment["INTERLUDE_TEST_DATABASE_URL"], !url.isEmpty else { throw StoreUnavailable() }
        // One connection, so the statements prepared by the warm-up serve every later batch.
        let store = try PostgresCheckpointer(configuration: .init(url: url, schema: "trips_\(UInt32.random(in: 0...UInt32.max))", poolSize: 1), logger: Logger(label: "test"))
        defer { store.close() }
        try await store.migrate()
        var registry = GraphRegistry()
        try registry.register(try makeApprovalGraph(checkpointer: InMemoryCheckpointer()))
        let processor = CommandProcessor(registry: registry, store: store, configuration: .init(), logger: Logger(label: "test"))

        // The first batches prepare the statements on the connection (one round trip each).
        _ = try await roundTrips(processor, store, count: 2, prefix: "warm")
        let small = try await roundTrips(processor, store, count: 4, prefix: "small")
        let large = try await roundTrips(processor, store, count: 48, prefix: "large")
        #expect(small.runs == 2 && small.resumes == 2, "4 commands: \(small)")
        #expect(large.runs == 2 && large.resumes == 2, "48 commands: \(large)")
        #expect(try await store.command("ok-large-47")?.status == .applied)
    }
}
