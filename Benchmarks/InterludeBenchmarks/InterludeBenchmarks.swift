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
        metrics: [.throughput, .wallClock, .mallocCountTotal], timeUnits: .nanoseconds, warmupIterations: 5,
        scalingFactor: .kilo, maxDuration: .seconds(3))
    Benchmark("Checkpoint JSON encoding, last checkpoint of a chain10 run (one per step in commit)", configuration: micro) { benchmark in
        let checkpointer = InMemoryCheckpointer()
        let app = try makeChain(checkpointer: checkpointer)
        let thread = nextThread()
        _ = try await app.invoke(ChainState(), thread: thread)
        guard let tuple = try await checkpointer.checkpoint(thread: thread, id: nil) else {
            throw BenchmarkFailure(description: "no checkpoint saved")
        }
        let encoder = JSONEncoder()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try encoder.encode(tuple.checkpoint))
        }
    }
    Benchmark("CheckpointID.description", configuration: micro) { benchmark in
        let id = CheckpointID(high: 0x0193_4f2a_1b2c_7d3e, low: 0x8f1e_2d3c_4b5a_6978)
        for _ in benchmark.scaledIterations {
            blackHole(id.description)
        }
    }
}
