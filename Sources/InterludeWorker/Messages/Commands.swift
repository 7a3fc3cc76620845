import Foundation
import Interlude

/// The message schema version this worker reads and writes.
public let messageSchemaVersion = 1

/// What a `run` command does when its thread is already paused or running.
public enum IfBusy: String, Codable, Sendable {
    /// Refuse with a `rejected` event (reason `thread_busy`). Default.
    case reject
    /// Start over from `START` anyway, dropping the unfinished step (LangGraph's behaviour for
    /// new input on a paused thread).
    case restart
}

/// Optional run settings a command may carry.
public struct CommandConfig: Codable, Sendable, Equatable {
    /// Supersteps allowed. Default: the worker's (25).
    public var recursionLimit: Int?
    /// Metadata stored on the checkpoints the command creates.
    public var metadata: [String: JSONValue]?
    /// Pause before these nodes for this run.
    public var interruptBefore: [String]?
    /// Pause after these nodes for this run.
    public var interruptAfter: [String]?

    enum CodingKeys: String, CodingKey {
        case recursionLimit = "recursion_limit", metadata
        case interruptBefore = "interrupt_before", interruptAfter = "interrupt_after"
    }

    /// Creates a config.
    public init(recursionLimit: Int? = nil, metadata: [String: JSONValue]? = nil, interruptBefore: [String]? = nil, interruptAfter: [String]? = nil) {
        self.recursionLimit = recursionLimit
        self.metadata = metadata
        self.interruptBefore = interruptBefore
        self.interruptAfter = interruptAfter
    }
}

/// A command read from the `runs` or `resumes` topic.
public struct CommandMessage: Sendable, Equatable {
    /// What the command asks.
    public enum Body: Sendable, Equatable {
        /// Start a run of `graph` with `input` (fields by channel name).
        case run(graph: String, input: [String: JSONValue], config: CommandConfig?, ifBusy: IfBusy)
        /// Answer the pending interrupt (`value`) or interrupts by id (`values`), optionally
        /// only if the thread's head is `checkpointID`.
        case resume(value: JSONValue?, values: [String: JSONValue]?, checkpointID: CheckpointID?)
        /// Edit state as `asNode`, optionally on a past checkpoint (fork), then optionally
        /// continue the run.
        case updateState(values: [String: JSONValue]?, asNode: String?, checkpointID: CheckpointID?, continueRun: Bool)
        /// Stop the thread: pending interrupts are cancelled, the thread ends `failed` with
        /// reason `cancelled`.
        case cancel(reason: String?)
    }

    /// The command id: unique, the key of idempotency.
    public var id: String
    /// The thread.
    public var threadID: String
    /// When the sender created it.
    public var createdAt: Date
    /// What it asks.
    public var body: Body
    /// Who answers, for a resume (`actor`): checked against the interrupts' approvers and
    /// recorded with the resolution. Default: none.
    public var actor: ReviewActor?
    /// The signature over a resume (`signature`), required when the worker requires signed
    /// answers. Default: none.
    public var signature: ResumeSignature?

    /// Creates a command.
    public init(id: String, threadID: String, createdAt: Date = Date(), body: Body, actor: ReviewActor? = nil, signature: ResumeSignature? = nil) {
        self.id = id
        self.threadID = threadID
        self.createdAt = createdAt
        self.body = body
        self.actor = actor
        self.signature = signature
    }

    /// The `type` field.
    public var type: String {
        switch body {
        case .run: "run"
        case .resume: "resume"
        case .updateState: "update_state"
        case .cancel: "cancel"
        }
    }

    /// The JSON envelope of this command.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "type": .string(type), "schema_version": .number(Double(messageSchemaVersion)), "id": .string(id),
            "thread_id": .string(threadID), "created_at": .string(Timestamp.format(createdAt)),
        ]
        switch body {
        case .run(let graph, let input, let config, let ifBusy):
            object["graph"] = .string(graph)
            object["input"] = .object(input)
            if let config, let encoded = try? JSONValue(encoding: config) { object["config"] = encoded }
            object["if_busy"] = .string(ifBusy.rawValue)
        case .resume(let value, let values, let checkpointID):
            if let value { object["value"] = value }
            if let values { object["values"] = .object(values) }
            if let checkpointID { object["checkpoint_id"] = .string(checkpointID.description) }
            if let actor { object["actor"] = actor.json }
            if let signature { object["signature"] = signature.json }
        case .updateState(let values, let asNode, let checkpointID, let continueRun):
            object["values"] = values.map { .object($0) } ?? .null
            if let asNode { object["as_node"] = .string(asNode) }
            if let checkpointID { object["checkpoint_id"] = .string(checkpointID.description) }
            if continueRun { object["continue"] = true }
        case .cancel(let reason):
            if let reason { object["reason"] = .string(reason) }
        }
        return .object(object)
    }
}

/// RFC 3339 timestamps with milliseconds, UTC, as every message carries them.
public enum Timestamp {
    /// Formats a date.
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Parses a timestamp with or without fractional seconds.
    public static func parse(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}
