import Foundation
import Interlude

/// The state of ``ValidatedInputExample``.
public struct ValidatedInputState: GraphState, Equatable {
    /// The accepted age; 0 until a valid answer came.
    public var age = 0
    /// How many answers the human gave, the valid one included.
    public var attempts = 0
    /// The welcome line written by `welcome`.
    public var greeting = ""

    /// The channels: last value for every field.
    public static let channels: [Channel<ValidatedInputState>] = [
        .value("age", \.age), .value("attempts", \.attempts), .value("greeting", \.greeting),
    ]

    /// An empty state.
    public init() {}
}

/// What `askAge` asks; after an invalid answer, `prompt` says what was wrong.
public struct AgeQuestion: Codable, Sendable, Equatable {
    /// The question, or the explanation of why the last answer was refused.
    public var prompt: String
    /// 1 for the first question, 2 after one invalid answer, ...
    public var attempt: Int
}

/// Ask until the answer is valid: `askAge` interrupts in a loop until the human gives a
/// whole number of at least 18, re-asking with an explanation. The answer is free text
/// (a `String`), validated by the node.
///
/// Every resume re-runs `askAge` from its start; its n-th `interrupt` call returns the n-th
/// answer, so the loop replays the earlier (invalid) answers and asks the next question.
public enum ValidatedInputExample {
    /// The name the graph is registered under.
    public static let name = "validated-input"
    /// The graph version stored in its checkpoints.
    public static let version = 1
    /// The youngest accepted age.
    public static let minimumAge = 18

    /// Checks one answer: the age, or why it is refused.
    public static func validate(_ answer: String) -> Result<Int, ValidationFailure> {
        let text = answer.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let age = Int(text) else { return .failure(ValidationFailure(reason: "'\(text)' is not a whole number")) }
        guard age >= minimumAge else { return .failure(ValidationFailure(reason: "\(age) is under \(minimumAge)")) }
        guard age < 150 else { return .failure(ValidationFailure(reason: "\(age) is not a plausible age")) }
        return .success(age)
    }

    /// Why an answer was refused.
    public struct ValidationFailure: Error, Sendable, Equatable {
        /// The explanation shown to the human.
        public var reason: String

        /// Creates a failure with its explanation.
        public init(reason: String) { self.reason = reason }
    }

    /// Builds and compiles the validation-loop graph.
    /// - Parameters:
    ///   - checkpointer: Where checkpoints go. Default: a new ``InMemoryCheckpointer``.
    ///   - clock: Time source for checkpoint timestamps. Default: the system clock.
    /// - Throws: `GraphError` if the graph does not compile (a bug in this example).
    public static func makeGraph(
        checkpointer: any Checkpointer = InMemoryCheckpointer(), clock: any GraphClock = SystemClock()
    ) throws -> CompiledGraph<ValidatedInputState> {
        var graph = StateGraph<ValidatedInputState>()
        graph.addNode("askAge") { _ in
            var prompt = "How old are you? (\(minimumAge) or older)"
            var attempt = 1
            while true {
                let answer: String = try await interrupt(AgeQuestion(prompt: prompt, attempt: attempt))
                switch validate(answer) {
                case .success(let age):
                    return .update(Update.set(\.age, age).set(\.attempts, attempt))
                case .failure(let failure):
                    prompt = "\(failure.reason); please enter a whole number, \(minimumAge) or older"
                    attempt += 1
                }
            }
        }
        graph.addNode("welcome") { state in .update(\.greeting, "Welcome! You are \(state.age).") }
        graph.addEdge(START, "askAge")
        graph.addEdge("askAge", "welcome")
        graph.addEdge("welcome", END)
        return try graph.compile(name: name, version: version, checkpointer: checkpointer, clock: clock)
    }
}
