import Foundation
import Interlude

/// The state of ``MultiQuestionExample``.
public struct SignupState: GraphState, Equatable {
    /// The name given.
    public var name = ""
    /// The email given.
    public var email = ""
    /// The confirmation written by `confirm`.
    public var confirmation = ""

    /// The channels: last value for every field.
    public static let channels: [Channel<SignupState>] = [
        .value("name", \.name), .value("email", \.email), .value("confirmation", \.confirmation),
    ]

    /// An empty state.
    public init() {}
}

/// One question of the sign-up form.
public struct FormQuestion: Codable, Sendable, Equatable {
    /// The field asked for: `name` or `email`.
    public var field: String
    /// The question text.
    public var prompt: String
}

/// Several questions in one node: `collect` asks for a name, then an email, each with its
/// own interrupt (and its own stable id). The run pauses twice; no state is written and no
/// new checkpoint is made between the two questions; `collect` returns both answers at once.
public enum MultiQuestionExample {
    /// The name the graph is registered under.
    public static let name = "multi-question"
    /// The graph version stored in its checkpoints.
    public static let version = 1

    /// Builds and compiles the two-question graph.
    /// - Parameters:
    ///   - checkpointer: Where checkpoints go. Default: a new ``InMemoryCheckpointer``.
    ///   - clock: Time source for checkpoint timestamps. Default: the system clock.
    /// - Throws: `GraphError` if the graph does not compile (a bug in this example).
    public static func makeGraph(
        checkpointer: any Checkpointer = InMemoryCheckpointer(), clock: any GraphClock = SystemClock()
    ) throws -> CompiledGraph<SignupState> {
        var graph = StateGraph<SignupState>()
        graph.addNode("collect") { _ in
            let name: String = try await interrupt(FormQuestion(field: "name", prompt: "What is your name?"))
            let email: String = try await interrupt(FormQuestion(field: "email", prompt: "What is your email, \(name)?"))
            return .update(Update.set(\.name, name).set(\.email, email))
        }
        graph.addNode("confirm") { state in .update(\.confirmation, "Signed up \(state.name) <\(state.email)>") }
        graph.addEdge(START, "collect")
        graph.addEdge("collect", "confirm")
        graph.addEdge("confirm", END)
        return try graph.compile(name: name, version: version, checkpointer: checkpointer, clock: clock)
    }
}
