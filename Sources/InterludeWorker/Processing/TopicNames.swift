/// The Kafka topics of one Interlude deployment, from a common prefix.
public struct TopicNames: Sendable, Equatable {
    /// The prefix. Default: `interlude.`.
    public var prefix: String

    /// Creates the names for a prefix.
    public init(prefix: String = "interlude.") { self.prefix = prefix }

    /// Commands that start, edit or cancel runs.
    public var runs: String { prefix + "runs" }
    /// Answers from review apps.
    public var resumes: String { prefix + "resumes" }
    /// One event per interrupt, for review apps.
    public var reviews: String { prefix + "reviews" }
    /// Step, completed, failed and rejected events.
    public var events: String { prefix + "events" }
    /// Messages that could not be processed, with the reason.
    public var dlq: String { prefix + "dlq" }

    /// The topics workers consume: runs and resumes.
    public var commands: [String] { [runs, resumes] }
    /// Every topic.
    public var all: [String] { [runs, resumes, reviews, events, dlq] }
}
