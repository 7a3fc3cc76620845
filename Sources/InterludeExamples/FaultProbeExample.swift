import Foundation
import Interlude
#if canImport(Glibc)
import Glibc
#endif

/// The state of ``FaultProbeExample``: what the fault tests ask of a run, and its outcome.
public struct FaultProbeState: GraphState, Equatable {
    /// A name for the run in the side-effect file (the tests use the thread id) (input).
    public var tag = ""
    /// Path of a file that gets one line per run of `work` and `finish`; empty: none (input).
    public var effects = ""
    /// How long `work` takes, in milliseconds (input). Default: 0.
    public var sleepMilliseconds = 0
    /// How many times `work` fails before it succeeds, counted in the side-effect file (input).
    public var failTimes = 0
    /// Seconds `review` waits before the deadline answers `{"approved": false}`; 0: no
    /// deadline (input). Default: 0.
    public var reviewTimeoutSeconds = 0
    /// The reviewer's decision, set by `review` or by an `update_state` as `review`.
    public var approved = false
    /// `"done"` once `finish` ran.
    public var outcome = ""

    /// The channels, all last-value: `tag`, `effects`, `sleep_ms`, `fail_times`,
    /// `review_timeout_s`, `approved`, `outcome`.
    public static let channels: [Channel<FaultProbeState>] = [
        .value("tag", \.tag), .value("effects", \.effects), .value("sleep_ms", \.sleepMilliseconds),
        .value("fail_times", \.failTimes), .value("review_timeout_s", \.reviewTimeoutSeconds), .value("approved", \.approved), .value("outcome", \.outcome),
    ]

    /// Fields are encoded under their channel names.
    enum CodingKeys: String, CodingKey {
        case tag, effects, sleepMilliseconds = "sleep_ms", failTimes = "fail_times", reviewTimeoutSeconds = "review_timeout_s", approved, outcome
    }

    /// An empty state.
    public init() {}
}

/// The answer `review` expects: `{"approved": true}`, the approval example's shape.
public struct FaultProbeAnswer: Codable, Sendable, Equatable {
    /// Go on to `finish`.
    public var approved: Bool

    /// Creates an answer.
    public init(approved: Bool) { self.approved = approved }
}

/// A graph for the fault tests, not a pattern to copy: `START -> work -> review -> finish -> END`.
///
/// `work` appends a line to the side-effect file, sleeps `sleep_ms` and fails while the file
/// holds no more than `fail_times` of its lines for the run's tag; `review` interrupts for a
/// ``FaultProbeAnswer`` (with a deadline when `review_timeout_s` is set); `finish` appends a line and ends the run. Each line is
/// `TAG NODE PID`, so the tests count how often each step ran and in which worker process,
/// whatever crashes, signals or rebalances happened meanwhile. Registered by `interlude
/// worker`; left out of ``ExampleCatalog`` because there is nothing to demo.
public enum FaultProbeExample {
    /// The name the graph is registered under.
    public static let name = "fault-probe"
    /// The graph version stored in its checkpoints.
    public static let version = 1

    /// A node of the probe failed on purpose (`fail_times`).
    public struct PlannedFailure: Error, CustomStringConvertible {
        /// What failed.
        public var description: String
    }

    /// Builds and compiles the probe graph.
    /// - Parameter checkpointer: Where checkpoints go. Default: a new ``InMemoryCheckpointer``.
    /// - Throws: `GraphError` if the graph does not compile (a bug in this example).
    public static func makeGraph(checkpointer: any Checkpointer = InMemoryCheckpointer()) throws -> CompiledGraph<FaultProbeState> {
        var graph = StateGraph<FaultProbeState>()
        graph.addNode("work") { state in
            record(state, node: "work")
            if state.sleepMilliseconds > 0 { try await Task.sleep(for: .milliseconds(state.sleepMilliseconds)) }
            if state.failTimes > 0, lines(state, node: "work") <= state.failTimes {
                throw PlannedFailure(description: "work failed on purpose for '\(state.tag)' (fail_times \(state.failTimes))")
            }
            return .update(Update.set(\.outcome, "working"))
        }
        let fallback = try JSONValue(encoding: FaultProbeAnswer(approved: false))
        graph.addNode("review") { state in
            let timeout: Duration? = state.reviewTimeoutSeconds > 0 ? .seconds(state.reviewTimeoutSeconds) : nil
            let answer: FaultProbeAnswer = try await interrupt("Go on with the probe?", timeout: timeout, onTimeout: timeout == nil ? nil : .answer(fallback))
            return .update(Update.set(\.approved, answer.approved))
        }
        graph.addNode("finish") { state in
            record(state, node: "finish")
            return .update(Update.set(\.outcome, "done"))
        }
        graph.addEdge(START, "work")
        graph.addEdge("work", "review")
        graph.addEdge("review", "finish")
        graph.addEdge("finish", END)
        return try graph.compile(name: name, version: version, checkpointer: checkpointer)
    }

    /// Appends `TAG NODE PID` to the side-effect file in one `write` (atomic with `O_APPEND`
    /// for lines this short, so processes may share the file).
    static func record(_ state: FaultProbeState, node: String) {
        guard !state.effects.isEmpty else { return }
        let fd = open(state.effects, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let line = Array("\(state.tag) \(node) \(getpid())\n".utf8)
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// Lines of the side-effect file for this run's tag and `node`.
    static func lines(_ state: FaultProbeState, node: String) -> Int {
        guard let text = try? String(contentsOfFile: state.effects, encoding: .utf8) else { return 0 }
        let prefix = "\(state.tag) \(node) "
        return text.split(separator: "\n").count { $0.hasPrefix(prefix) }
    }
}
