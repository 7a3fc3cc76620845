import Benchmark
import Foundation
import Interlude
import InterludeExamples
import InterludePostgres
import Logging
import Synchronization

// Runtime throughput, in memory and on PostgreSQL. Each benchmark iteration runs many whole
// runs (the scaling factor), so the harness's per-iteration overhead does not count; the
// figures are per run. See BENCHMARKS.md for how to read them.

/// The state of the chain benchmark: one counter every node increments.
struct ChainState: GraphState {
    var count = 0
    static let channels: [Channel<ChainState>] = [.value("count", \.count)]
}

/// The state of the append loop: a list that grows by one element per step.
struct LoopState: GraphState {
    var items: [String] = []
    static let channels: [Channel<LoopState>] = [.append("items", \.items)]
}

/// Nodes in the chain: one superstep each.
let chainLength = 10

/// START -> n0 -> n1 -> ... -> n9 -> END, each node adding one to `count`.
func makeChain(checkpointer: (any Checkpointer)?) throws -> CompiledGraph<ChainState> {
    var graph = StateGraph<ChainState>()
    for i in 0..<chainLength {
        graph.addNode("n\(i)") { state in .update(\.count, state.count + 1) }
        graph.addEdge(i == 0 ? START : "n\(i - 1)", "n\(i)")
    }
    graph.addEdge("n\(chainLength - 1)", END)
    return try graph.compile(name: "bench-chain", checkpointer: checkpointer)
}

/// One node that appends a ~27-byte element and loops until `steps` elements exist.
func makeAppendLoop(steps: Int, checkpointer: any Checkpointer) throws -> CompiledGraph<LoopState> {
    var graph = StateGraph<LoopState>()
    graph.addNode("step") { state in .update(\.items, ["item \(String(format: "%04d", state.items.count)) of the loop ok"]) }
    graph.addEdge(START, "step")
    graph.addConditionalEdges("step", destinations: ["step", END]) { state in state.items.count < steps ? "step" : END }
    return try graph.compile(name: "bench-loop", checkpointer: checkpointer)
}

/// Bytes of a thread's blob data plus its checkpoint rows.
let loopBytes = PostgresStatement(
    "bench.loop_bytes",
    sql: """
        SELECT ((SELECT coalesce(sum(octet_length(data)), 0) FROM channel_blobs WHERE thread_id = $1)
              + (SELECT coalesce(sum(pg_column_size(c.*)), 0) FROM checkpoints c WHERE thread_id = $1))::bigint
        """)

/// A new thread id per run.
let threadCounter = Atomic<Int>(0)
func nextThread() -> String { "t\(threadCounter.add(1, ordering: .relaxed).newValue)" }

struct BenchmarkFailure: Error, CustomStringConvertible {
    let description: String
}

func runChain(_ app: CompiledGraph<ChainState>, config: RunConfig = RunConfig()) async throws {
    let result = try await app.invoke(ChainState(), thread: app.checkpointer == nil ? nil : nextThread(), config: config)
    guard result.values.count == chainLength else { throw BenchmarkFailure(description: "chain ended at \(result.values.count)") }
}

func runApproval(_ app: CompiledGraph<ApprovalState>, config: RunConfig) async throws {
    let thread = nextThread()
    let paused = try await app.invoke(ApprovalState(recipient: "ana@example.com", subject: "Q3 report"), thread: thread, config: config)
    guard paused.isInterrupted else { throw BenchmarkFailure(description: "approval did not pause") }
    let done = try await app.resume(thread: thread, with: ApprovalAnswer.approve, config: config)
    guard done.values.outcome == "sent" else { throw BenchmarkFailure(description: "approval ended with '\(done.values.outcome)'") }
}

/// `count` runs, `concurrency` at a time.
func concurrently(_ count: Int, _ concurrency: Int, _ run: @escaping @Sendable () async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for i in 0..<count {
            if i >= concurrency { try await group.next() }
            group.addTask { try await run() }
        }
        try await group.waitForAll()
    }
}

/// A PostgreSQL checkpointer on a fresh schema of the server in INTERLUDE_TEST_DATABASE_URL
/// (make bench starts one), or `nil` without one.
func postgres(poolSize: Int) -> PostgresCheckpointer? {
    guard let url = ProcessInfo.processInfo.environment["INTERLUDE_TEST_DATABASE_URL"], !url.isEmpty else { return nil }
    let checkpointer = try! PostgresCheckpointer(
        configuration: .init(url: url, schema: "bench_\(UInt32.random(in: 0...UInt32.max))", poolSize: poolSize),
        logger: Logger(label: "bench"))
    return checkpointer
}

let benchmarks: @Sendable () -> Void = {
    let perRun = Benchmark.Configuration(
        metrics: [.throughput, .wallClock, .mallocCountTotal], timeUnits: .microseconds,
        units: [.mallocCountTotal: .count, .throughput: .count], warmupIterations: 2, scalingFactor: .kilo,
        maxDuration: .seconds(6), maxIterations: 30)

    // In memory.
    for durability in [Durability.sync, .exit] {
        let config = RunConfig(durability: durability)
        let chain = try! makeChain(checkpointer: InMemoryCheckpointer())
        Benchmark("in memory: chain10 run, durability \(durability.rawValue) (x10 = steps/s)", configuration: perRun) { benchmark in
            for _ in benchmark.scaledIterations { try await runChain(chain, config: config) }
        }
        let approval = try! ApprovalExample.makeGraph(checkpointer: InMemoryCheckpointer())
        Benchmark("in memory: approval run (invoke, interrupt, resume, done), durability \(durability.rawValue)", configuration: perRun) { benchmark in
            for _ in benchmark.scaledIterations { try await runApproval(approval, config: config) }
        }
    }
    let concurrentApproval = try! ApprovalExample.makeGraph(checkpointer: InMemoryCheckpointer())
    Benchmark("in memory: approval run, 8 threads at a time, durability exit", configuration: perRun) { benchmark in
        try await concurrently(benchmark.scaledIterations.count, 8) { try await runApproval(concurrentApproval, config: RunConfig(durability: .exit)) }
    }
    let bare = try! makeChain(checkpointer: nil)
    Benchmark("no checkpointer: chain10 run (engine alone, x10 = steps/s)", configuration: perRun) { benchmark in
        for _ in benchmark.scaledIterations { try await runChain(bare) }
    }
    Benchmark(
        "CheckpointID.description",
        configuration: .init(metrics: [.throughput, .mallocCountTotal], units: [.throughput: .count], scalingFactor: .kilo, maxDuration: .seconds(2))
    ) { benchmark in
        let id = CheckpointID(high: 0x0193_4f2a_1b2c_7d3e, low: 0x8f1e_2d3c_4b5a_6978)
        for _ in benchmark.scaledIterations { blackHole(id.description) }
    }

    // PostgreSQL (only when make bench started a server).
    guard postgres(poolSize: 1) != nil else { return }

    // Reads of a thread with a 200-step history (an append loop), and what that loop stores.
    let storedBytes = BenchmarkMetric.custom("stored bytes (blobs + checkpoint rows)", useScalingFactor: false)
    let reads = Benchmark.Configuration(
        metrics: [.throughput, .wallClock], timeUnits: .microseconds, units: [.throughput: .count],
        warmupIterations: 5, maxDuration: .seconds(4), maxIterations: 2_000)
    let loopStore = postgres(poolSize: 2)!
    let loopThread = "loop-\(UUID().uuidString)"
    let loopReady = Mutex(false)
    @Sendable func prepareLoop() async throws -> CompiledGraph<LoopState> {
        let app = try makeAppendLoop(steps: 200, checkpointer: loopStore)
        let ready = loopReady.withLock { done in defer { done = true }; return done }
        if !ready {
            try await loopStore.migrate()
            _ = try await app.invoke(LoopState(), thread: loopThread, config: RunConfig(recursionLimit: 500))
        }
        return app
    }
    Benchmark("postgres: getState of a thread at step 200", configuration: reads) { benchmark in
        let app = try await prepareLoop()
        benchmark.startMeasurement()
        guard let state = try await app.getState(thread: loopThread), state.values.items.count == 200 else {
            throw BenchmarkFailure(description: "the loop thread is not at 200 items")
        }
    }
    Benchmark("postgres: stateHistory of 200 checkpoints", configuration: reads) { benchmark in
        let app = try await prepareLoop()
        benchmark.startMeasurement()
        let history = try await app.stateHistory(thread: loopThread, limit: 200)
        guard history.count == 200 else { throw BenchmarkFailure(description: "history has \(history.count) entries") }
    }
    Benchmark(
        "postgres: bytes a 200-step append loop stores",
        configuration: .init(metrics: [storedBytes], warmupIterations: 0, maxIterations: 1)
    ) { benchmark in
        _ = try await prepareLoop()
        let rows = try await loopStore.pool.query(loopBytes, [.text(loopThread)])
        benchmark.measurement(storedBytes, try rows.first?.decode(Int.self, at: 0) ?? 0)
    }
    let perHundred = Benchmark.Configuration(
        metrics: [.throughput, .wallClock], timeUnits: .milliseconds, units: [.throughput: .count],
        warmupIterations: 1, maxDuration: .seconds(8), maxIterations: 20)
    for (durability, concurrency) in [(Durability.exit, 1), (.exit, 8), (.sync, 1), (.sync, 8)] {
        let checkpointer = postgres(poolSize: 8)!
        let config = RunConfig(durability: durability)
        Benchmark("postgres: 100 approval runs, \(concurrency) at a time, durability \(durability.rawValue)", configuration: perHundred) { benchmark in
            try await checkpointer.migrate()
            let app = try ApprovalExample.makeGraph(checkpointer: checkpointer)
            benchmark.startMeasurement()
            try await concurrently(100, concurrency) { try await runApproval(app, config: config) }
        }
        Benchmark("postgres: 100 chain10 runs, \(concurrency) at a time, durability \(durability.rawValue) (x1000 = steps/s)", configuration: perHundred) { benchmark in
            try await checkpointer.migrate()
            let app = try makeChain(checkpointer: checkpointer)
            benchmark.startMeasurement()
            try await concurrently(100, concurrency) { try await runChain(app, config: config) }
        }
    }
}
