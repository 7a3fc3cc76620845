import Interlude
import InterludeExamples

/// The graphs `interlude dev --graph NAME` can start runs of, with the input each run gets
/// (the reviewer's answers for them are in ``AnswerPresets``).
enum DevGraphs {
    /// The input of a run of each graph, for the name the thread is named after.
    static let inputs: [String: @Sendable (String) -> [String: JSONValue]] = [
        ApprovalExample.name: { ["recipient": .string("\($0)@example.com"), "subject": "quarterly report"] },
        SubgraphReviewExample.name: { ["topic": .string("\($0)'s quarterly report")] },
    ]

    /// The input function for `graph`.
    /// - Throws: ``DemoError`` naming the graphs `dev` can run when `graph` is not one of them.
    static func requireInput(for graph: String) throws -> @Sendable (String) -> [String: JSONValue] {
        guard let input = inputs[graph] else {
            throw DemoError("interlude dev cannot start '\(graph)' runs; --graph takes one of: \(inputs.keys.sorted().joined(separator: ", "))")
        }
        return input
    }
}
