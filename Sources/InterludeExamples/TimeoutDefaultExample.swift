import Foundation
import Interlude

/// The state of ``TimeoutDefaultExample``: a maintenance window that needs a go-ahead.
public struct MaintenanceState: GraphState, Equatable {
    /// What is planned (input).
    public var plan = ""
    /// `"applied"` or `"postponed"` once the run ends.
    public var outcome = ""

    /// The channels: last value for every field.
    public static let channels: [Channel<MaintenanceState>] = [.value("plan", \.plan), .value("outcome", \.outcome)]

    /// An empty state.
    public init() {}

    /// The input of a run: the plan.
    public init(plan: String) { self.plan = plan }
}

/// What `confirm` asks, with the deadline stated.
public struct MaintenanceQuestion: Codable, Sendable, Equatable {
    /// The question text.
    public var prompt: String
    /// Seconds the human has before the default applies.
    public var timeoutSeconds: Int
}

/// The go-ahead, or not.
public struct MaintenanceAnswer: Codable, Sendable, Equatable {
    /// `true` applies the plan now.
    public var approved: Bool

    /// Creates an answer.
    public init(approved: Bool) { self.approved = approved }
}

/// Do not wait forever: `confirm` asks with a deadline (``timeout``) and a default answer
/// (``defaultAnswer``: postpone). When the deadline passes with no resume,
/// `expire(thread:now:)` (the worker's timer sweep) answers with the default and the run
/// continues. A later resume naming the interrupt id is refused as already resolved; a
/// plain resume finds no pending interrupt.
public enum TimeoutDefaultExample {
    /// The name the graph is registered under.
    public static let name = "timeout-default"
    /// The graph version stored in its checkpoints.
    public static let version = 1
    /// How long the human has. 15 minutes.
    public static let timeout: Duration = .seconds(15 * 60)
    /// The answer used when nobody answers in time: not approved (postpone).
    public static let defaultAnswer = MaintenanceAnswer(approved: false)

    /// Builds and compiles the timeout graph.
    /// - Parameters:
    ///   - checkpointer: Where checkpoints go. Default: a new ``InMemoryCheckpointer``.
    ///   - clock: Time source for timestamps and the deadline; pass a `ManualClock` in tests.
    ///     Default: the system clock.
    /// - Throws: `GraphError` if the graph does not compile (a bug in this example).
    public static func makeGraph(
        checkpointer: any Checkpointer = InMemoryCheckpointer(), clock: any GraphClock = SystemClock()
    ) throws -> CompiledGraph<MaintenanceState> {
        let fallback = try JSONValue(encoding: defaultAnswer)
        var graph = StateGraph<MaintenanceState>()
        graph.addNode("confirm") { state in
            let answer: MaintenanceAnswer = try await interrupt(
                MaintenanceQuestion(
                    prompt: "Apply '\(state.plan)' now? (no answer in 15 minutes postpones it)",
                    timeoutSeconds: Int(timeout.components.seconds)),
                timeout: timeout, onTimeout: .answer(fallback))
            return .update(\.outcome, answer.approved ? "applied" : "postponed")
        }
        graph.addEdge(START, "confirm")
        graph.addEdge("confirm", END)
        return try graph.compile(name: name, version: version, checkpointer: checkpointer, clock: clock)
    }
}
