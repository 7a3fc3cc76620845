/// The example graphs of this module, for listings (the `interlude demo` command) and docs.
public enum ExampleCatalog {
    /// One example: its name and what it shows.
    public struct Entry: Sendable, Equatable {
        /// The name used by `interlude demo --example NAME` (the graph's registered name).
        public var name: String
        /// One line on what the example shows.
        public var summary: String
    }

    /// Every example, in the order the demo runs them.
    public static let entries: [Entry] = [
        Entry(name: ApprovalExample.name, summary: "draft an email, approve or reject it before it is sent"),
        Entry(name: EditStateExample.name, summary: "a human edits the draft before it is published"),
        Entry(name: ToolReviewExample.name, summary: "approve, edit, reject or answer a model's tool call before it runs (ToolCallReview)"),
        Entry(name: ValidatedInputExample.name, summary: "ask again until the answer is valid (age 18 or older)"),
        Entry(name: MultiQuestionExample.name, summary: "two questions in one node: name, then email"),
        Entry(name: ConditionalInterruptExample.name, summary: "ask a human only when the classifier's confidence is below 0.8"),
        Entry(name: TimeoutDefaultExample.name, summary: "a question with a deadline; the default answer applies when it passes"),
        Entry(name: SubgraphReviewExample.name, summary: "a review subgraph as a node: its question pauses the parent, the answer resumes it"),
    ]

    /// The entry with this name, or `nil`.
    public static func entry(named name: String) -> Entry? { entries.first { $0.name == name } }
}
