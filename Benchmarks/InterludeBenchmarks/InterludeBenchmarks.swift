import Benchmark
import Foundation
import Interlude
import InterludeExamples
import Synchronization

// In-memory runtime throughput. Every iteration is one whole run on a new thread id, so the
// figures include planning, node execution, reducers, checkpoint encoding and commits.
// Throughput is per iteration: multiply the chain figures by 10 for steps per second (see
// BENCHMARKS.md); mallocCountTotal is per iteration too.

/// The state of the chain benchmark: one counter every node increments.
struct ChainState: GraphState {
    var count = 0
    static let channels: [Channel<ChainState>] = [.value("count", \.count)]
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

/// A new thread id per run (short enough to stay an inline string: no allocation).
let threadCounter = Atomic<Int>(0)
func nextThread() -> String { "t\(threadCounter.add(1, ordering: .relaxed).newValue)" }

struct BenchmarkFailure: Error, CustomStringConvertible {
    let description: String
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .mallocCountTotal],
        timeUnits: .microseconds,
        units: [.mallocCountTotal: .count, .throughput: .count],
        warmupIterations: 50,
        maxDuration: .seconds(5),
        maxIterations: 1_000_000
    )

    for durability in [Durability.sync, .exit] {
        let config = RunConfig(durability: durability)

        // One graph and one checkpointer per benchmark: threads accumulate as in a real
        // process; each run is on a new thread.
        let chain = try! makeChain(checkpointer: InMemoryCheckpointer())
        Benchmark("chain10 steps, in memory, durability \(durability.rawValue) (throughput x10 = steps/s)") { _ in
            let result = try await chain.invoke(ChainState(), thread: nextThread(), config: config)
            guard result.values.count == chainLength else {
                throw BenchmarkFailure(description: "chain ended at \(result.values.count)")
            }
        }

        let approval = try! ApprovalExample.makeGraph(checkpointer: InMemoryCheckpointer())
        let input = ApprovalState(recipient: "ana@example.com", subject: "Q3 report")
        Benchmark("approval flow, in memory, durability \(durability.rawValue) (invoke, interrupt, resume, done)") { _ in
            let thread = nextThread()
            let paused = try await approval.invoke(input, thread: thread, config: config)
            guard paused.isInterrupted else { throw BenchmarkFailure(description: "approval did not pause") }
            let done = try await approval.resume(thread: thread, with: ApprovalAnswer.approve, config: config)
            guard done.values.outcome == "sent" else {
                throw BenchmarkFailure(description: "approval ended with outcome '\(done.values.outcome)'")
            }
        }
    }

    // The same chain with a new, empty checkpointer for every run: compared with the shared
    // one above, shows whether commits slow down as a checkpointer fills up.
    Benchmark("chain10 steps, in memory, durability sync, new checkpointer per run") { benchmark in
        let app = try makeChain(checkpointer: InMemoryCheckpointer())
        benchmark.startMeasurement()
        let result = try await app.invoke(ChainState(), thread: nextThread())
        guard result.values.count == chainLength else {
            throw BenchmarkFailure(description: "chain ended at \(result.values.count)")
        }
    }

    let bare = try! makeChain(checkpointer: nil)
    Benchmark("chain10 steps, no checkpointer (reference: engine without persistence)") { _ in
        let result = try await bare.invoke(ChainState())
        guard result.values.count == chainLength else {
            throw BenchmarkFailure(description: "chain ended at \(result.values.count)")
        }
    }

    // Where the in-memory time goes (see BENCHMARKS.md): InMemoryCheckpointer.commit
    // JSON-encodes every new checkpoint as an integrity fingerprint, and Checkpoint encodes
    // every channel version (a CheckpointID) through CheckpointID.description.
    let micro = Benchmark.Configuration(
        metrics: [.throughput, .wallClock, .mallocCountTotal], timeUnits: .nanoseconds,
        units: [.mallocCountTotal: .count, .throughput: .count], warmupIterations: 5, scalingFactor: .kilo, maxDuration: .seconds(3))
    Benchmark(
        "Checkpoint JSON encoding, every checkpoint of one chain10 run (the fingerprints commit takes per run)",
        configuration: .init(
            metrics: [.throughput, .wallClock, .mallocCountTotal], timeUnits: .microseconds,
            units: [.mallocCountTotal: .count, .throughput: .count], warmupIterations: 5)
    ) { benchmark in
        let checkpointer = InMemoryCheckpointer()
        let app = try makeChain(checkpointer: checkpointer)
        let thread = nextThread()
        _ = try await app.invoke(ChainState(), thread: thread)
        let checkpoints = try await checkpointer.history(thread: thread, query: HistoryQuery()).map(\.checkpoint)
        guard checkpoints.count > chainLength else {
            throw BenchmarkFailure(description: "expected more than \(chainLength) checkpoints, found \(checkpoints.count)")
        }
        let encoder = JSONEncoder()  // configured as the runtime's JSONCoding.encoder
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        benchmark.startMeasurement()
        for checkpoint in checkpoints { blackHole(try encoder.encode(checkpoint)) }
    }
    Benchmark("CheckpointID.description", configuration: micro) { benchmark in
        let id = CheckpointID(high: 0x0193_4f2a_1b2c_7d3e, low: 0x8f1e_2d3c_4b5a_6978)
        for _ in benchmark.scaledIterations {
            blackHole(id.description)
        }
    }
}
