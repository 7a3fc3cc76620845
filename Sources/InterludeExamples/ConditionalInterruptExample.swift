import Foundation
import Interlude

/// The state of ``ConditionalInterruptExample``: a support ticket routed by a classifier.
public struct TicketState: GraphState, Equatable {
    /// The ticket text (input).
    public var text = ""
    /// The label the classifier chose (or the human corrected).
    public var label = ""
    /// The classifier's confidence, 0...1.
    public var confidence = 0.0
    /// `true` when a human looked at the ticket.
    public var reviewed = false
    /// Where the ticket went: `queue:<label>` or `escalated`.
    public var outcome = ""

    /// The channels: last value for every field.
    public static let channels: [Channel<TicketState>] = [
        .value("text", \.text), .value("label", \.label), .value("confidence", \.confidence),
        .value("reviewed", \.reviewed), .value("outcome", \.outcome),
    ]

    /// An empty state.
    public init() {}

    /// The input of a run: the ticket text.
    public init(text: String) { self.text = text }
}

/// What `check` asks when the classifier is unsure.
public struct LowConfidenceQuestion: Codable, Sendable, Equatable {
    /// The question text.
    public var prompt: String
    /// The proposed label.
    public var label: String
    /// The classifier's confidence.
    public var confidence: Double
}

/// The human's verdict on a low-confidence label.
public struct ProceedAnswer: Codable, Sendable, Equatable {
    /// `true` routes the ticket (with ``label`` if given); `false` escalates it.
    public var proceed: Bool
    /// A corrected label; `nil` keeps the classifier's.
    public var label: String?

    /// Creates an answer.
    public init(proceed: Bool, label: String? = nil) {
        self.proceed = proceed
        self.label = label
    }
}

/// Interrupt only when needed: `check` asks a human only when the classifier's confidence
/// is below ``threshold``; confident tickets never pause.
public enum ConditionalInterruptExample {
    /// The name the graph is registered under.
    public static let name = "conditional-interrupt"
    /// The graph version stored in its checkpoints.
    public static let version = 1
    /// Below this confidence a human decides. 0.8.
    public static let threshold = 0.8

    /// A deterministic keyword classifier: `(label, confidence)`.
    /// "refund"/"invoice" -> billing 0.92, "password"/"login" -> account 0.9, else general 0.5.
    public static func classify(_ text: String) -> (label: String, confidence: Double) {
        let lower = text.lowercased()
        if lower.contains("refund") || lower.contains("invoice") { return ("billing", 0.92) }
        if lower.contains("password") || lower.contains("login") { return ("account", 0.9) }
        return ("general", 0.5)
    }

    /// Builds and compiles the conditional-interrupt graph.
    /// - Parameters:
    ///   - checkpointer: Where checkpoints go. Default: a new ``InMemoryCheckpointer``.
    ///   - clock: Time source for checkpoint timestamps. Default: the system clock.
    /// - Throws: `GraphError` if the graph does not compile (a bug in this example).
    public static func makeGraph(
        checkpointer: any Checkpointer = InMemoryCheckpointer(), clock: any GraphClock = SystemClock()
    ) throws -> CompiledGraph<TicketState> {
        var graph = StateGraph<TicketState>()
        graph.addNode("classify") { state in
            let result = classify(state.text)
            return .update(Update.set(\.label, result.label).set(\.confidence, result.confidence))
        }
        graph.addNode("check") { state in
            guard state.confidence < threshold else { return .update(\.outcome, "queue:\(state.label)") }
            let answer: ProceedAnswer = try await interrupt(
                LowConfidenceQuestion(
                    prompt: "Route this ticket to '\(state.label)' (confidence \(state.confidence))?", label: state.label,
                    confidence: state.confidence))
            guard answer.proceed else { return .update(Update.set(\.reviewed, true).set(\.outcome, "escalated")) }
            let label = answer.label ?? state.label
            return .update(Update.set(\.reviewed, true).set(\.label, label).set(\.outcome, "queue:\(label)"))
        }
        graph.addEdge(START, "classify")
        graph.addEdge("classify", "check")
        graph.addEdge("check", END)
        return try graph.compile(name: name, version: version, checkpointer: checkpointer, clock: clock)
    }
}
