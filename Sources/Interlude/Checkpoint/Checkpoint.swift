import Foundation

/// A channel version: the id of the checkpoint whose step last wrote the channel.
public typealias ChannelVersion = CheckpointID

/// Where a checkpoint came from.
public enum CheckpointSource: String, Sendable, Codable, Hashable {
    /// Created from new input to the thread (step -1 on a new thread).
    case input
    /// Created by the loop at the end of a superstep.
    case loop
    /// Created by `updateState`.
    case update
    /// Created when a past checkpoint is replayed or forked.
    case fork
}

/// The graph that wrote a checkpoint, so a worker can refuse a thread written by a graph that
/// changed incompatibly.
public struct GraphIdentity: Sendable, Codable, Hashable, CustomStringConvertible {
    /// The graph's registered name.
    public var name: String
    /// The graph's version; bump it when a change makes old checkpoints unreadable.
    public var version: Int

    /// Creates an identity.
    public init(name: String, version: Int) {
        self.name = name
        self.version = version
    }

    public var description: String { "\(name)@\(version)" }
}

/// A checkpoint: the state of a thread between two supersteps.
///
/// Channel values are not inside the checkpoint: only their versions. The values live in
/// ``ChannelBlob``s keyed by channel and version, so a step stores only the channels it
/// changed, and an append channel stores only what it appended (see ``ChannelBlob``).
public struct Checkpoint: Sendable, Codable, Hashable {
    /// The id; sorts by creation time.
    public var id: CheckpointID
    /// The checkpoint this one was derived from (`nil` for the first of a thread).
    public var parentID: CheckpointID?
    /// The superstep number: -1 for the first input, then 0, 1, ... across invocations.
    public var step: Int
    /// What created the checkpoint.
    public var source: CheckpointSource
    /// When it was created.
    public var createdAt: Date
    /// The graph that wrote it.
    public var graph: GraphIdentity
    /// The version of every channel that has been written, state fields and internal
    /// trigger channels (`branch:to:NODE`, `__start__`, `__sends__`) alike.
    public var channelVersions: [String: ChannelVersion]
    /// For every node, the versions of its trigger channels it has already run on.
    /// The key `__interrupt__` records the versions at the last breakpoint.
    public var versionsSeen: [String: [String: ChannelVersion]]
    /// Caller-supplied metadata (run id, user, ...). `source` and `step` are fields above;
    /// ``metadataObject`` merges them for filtering.
    public var metadata: [String: JSONValue]

    /// Creates a checkpoint.
    public init(
        id: CheckpointID, parentID: CheckpointID?, step: Int, source: CheckpointSource,
        createdAt: Date, graph: GraphIdentity, channelVersions: [String: ChannelVersion],
        versionsSeen: [String: [String: ChannelVersion]], metadata: [String: JSONValue] = [:]
    ) {
        self.id = id
        self.parentID = parentID
        self.step = step
        self.source = source
        self.createdAt = createdAt
        self.graph = graph
        self.channelVersions = channelVersions
        self.versionsSeen = versionsSeen
        self.metadata = metadata
    }

    /// The metadata with `source` and `step` merged in: what history filters match against.
    public var metadataObject: [String: JSONValue] {
        var all = metadata
        all["source"] = .string(source.rawValue)
        all["step"] = .number(Double(step))
        return all
    }
}

/// The stored value of one channel at one version.
///
/// A `.full` blob holds the whole value as JSON. An `.appendDelta` blob holds only the JSON
/// array of elements appended at this version; the value is the base version's value followed
/// by these elements. Writers store a full blob every few deltas so a read follows a short
/// chain.
public struct ChannelBlob: Sendable, Equatable, Codable {
    /// How the bytes relate to the value.
    public enum Encoding: Sendable, Equatable, Codable {
        /// `data` is the whole value.
        case full
        /// `data` is a JSON array appended to the value at `base` (`nil`: appended to empty).
        case appendDelta(base: ChannelVersion?)
    }

    /// The channel (state field or internal channel) name.
    public var channel: String
    /// The version this value belongs to.
    public var version: ChannelVersion
    /// Full value or delta.
    public var encoding: Encoding
    /// Deltas since the last full blob in this chain (0 for a full blob).
    public var depth: Int
    /// JSON bytes.
    public var data: Data

    /// Creates a blob.
    public init(channel: String, version: ChannelVersion, encoding: Encoding, depth: Int, data: Data) {
        self.channel = channel
        self.version = version
        self.encoding = encoding
        self.depth = depth
        self.data = data
    }

    /// The base version a delta builds on, if this is a delta.
    public var base: ChannelVersion? {
        if case .appendDelta(let base) = encoding { base } else { nil }
    }
}

/// Identifies a stored blob.
public struct BlobKey: Hashable, Sendable {
    /// The channel.
    public var channel: String
    /// The version.
    public var version: ChannelVersion

    /// Creates a key.
    public init(channel: String, version: ChannelVersion) {
        self.channel = channel
        self.version = version
    }
}

/// A write a task produced, saved against the checkpoint the task ran from.
///
/// Writes of tasks that finished while a sibling interrupted or failed are kept, so they are
/// not re-run. Special channels: `__interrupt__` (the interrupts a task raised, JSON array),
/// `__resume__` (the answers given to a task so far, JSON array), `__error__` (a task's
/// failure), `__input__` (writes from a `Command` given as input, with the null task id).
public struct PendingWrite: Sendable, Equatable, Codable {
    /// The task that wrote it (deterministic, see ``TaskID``).
    public var taskID: String
    /// The node the task ran.
    public var node: String
    /// Position within the task's writes; special channels use negative indexes.
    public var index: Int
    /// The channel written.
    public var channel: String
    /// JSON bytes of the written value.
    public var value: Data

    /// Creates a pending write.
    public init(taskID: String, node: String, index: Int, channel: String, value: Data) {
        self.taskID = taskID
        self.node = node
        self.index = index
        self.channel = channel
        self.value = value
    }
}

/// A checkpoint as loaded from a checkpointer, with what is needed to rebuild its values.
public struct CheckpointTuple: Sendable, Equatable {
    /// The checkpoint.
    public var checkpoint: Checkpoint
    /// For every channel in `checkpoint.channelVersions` that has a stored value: the blob at
    /// that version and, for deltas, every blob down its base chain to a full one.
    public var blobs: [ChannelBlob]
    /// Writes saved against this checkpoint.
    public var pendingWrites: [PendingWrite]

    /// Creates a tuple.
    public init(checkpoint: Checkpoint, blobs: [ChannelBlob], pendingWrites: [PendingWrite]) {
        self.checkpoint = checkpoint
        self.blobs = blobs
        self.pendingWrites = pendingWrites
    }
}

/// Where a thread stands.
public enum ThreadStatus: String, Sendable, Codable, Hashable {
    /// Has tasks to run and nobody paused it (new, after an error, after `updateState`).
    case ready
    /// Waiting on a human: dynamic interrupts or a static breakpoint.
    case interrupted
    /// Nothing left to run.
    case completed
    /// Ended for good: a human wait timed out with no default, or a run was parked.
    case failed
}

/// A thread's head record: what a worker reads before it acts, and compares-and-sets after.
public struct ThreadRecord: Sendable, Equatable {
    /// The thread id.
    public var threadID: String
    /// Bumped by every commit; the compare-and-set key that fences stale writers.
    public var version: Int64
    /// The newest checkpoint of the current branch.
    public var head: CheckpointID?
    /// Where the thread stands.
    public var status: ThreadStatus
    /// Why it failed, when `status` is `.failed`.
    public var failureReason: String?
    /// The graph that last wrote the thread.
    public var graph: GraphIdentity
    /// When the thread was last written.
    public var updatedAt: Date

    /// Creates a record.
    public init(
        threadID: String, version: Int64, head: CheckpointID?, status: ThreadStatus,
        failureReason: String?, graph: GraphIdentity, updatedAt: Date
    ) {
        self.threadID = threadID
        self.version = version
        self.head = head
        self.status = status
        self.failureReason = failureReason
        self.graph = graph
        self.updatedAt = updatedAt
    }
}

/// What happens when a human wait passes its deadline.
///
/// Its JSON form is `{"answer": <value>}` or `"fail"`.
public enum TimeoutAction: Sendable, Equatable, Codable {
    /// Continue as if the human had answered this value.
    case answer(JSONValue)
    /// End the run as failed with reason `timeout`.
    case fail

    /// The JSON form.
    public var json: JSONValue {
        switch self {
        case .answer(let value): ["answer": value]
        case .fail: "fail"
        }
    }

    /// Reads the JSON form.
    public init?(json: JSONValue) {
        if json == "fail" {
            self = .fail
        } else if let answer = json["answer"] {
            self = .answer(answer)
        } else {
            return nil
        }
    }

    public init(from decoder: Decoder) throws {
        let json = try JSONValue(from: decoder)
        guard let action = TimeoutAction(json: json) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected {\"answer\": ...} or \"fail\", got \(json)"))
        }
        self = action
    }

    public func encode(to encoder: Encoder) throws { try json.encode(to: encoder) }
}

/// The life of an interrupt.
public enum InterruptStatus: String, Sendable, Codable, Hashable {
    /// Waiting for an answer.
    case pending
    /// Answered by a resume.
    case resolved
    /// Its deadline passed (answered by the default, or the run failed).
    case expired
    /// Left behind: new input, an edit or a fork moved the thread past it.
    case cancelled
}

/// One interrupt as the thread's interrupt table records it.
public struct InterruptRecord: Sendable, Equatable, Codable {
    /// The interrupt id (stable across re-runs of the same task).
    public var id: String
    /// The thread.
    public var threadID: String
    /// The checkpoint whose task raised it.
    public var checkpointID: CheckpointID
    /// The task that raised it.
    public var taskID: String
    /// The node that raised it.
    public var node: String
    /// The question, as JSON.
    public var value: JSONValue
    /// Where it stands.
    public var status: InterruptStatus
    /// When it expires, if it has a deadline.
    public var deadline: Date?
    /// What expiry does, if it has a deadline.
    public var onTimeout: TimeoutAction?
    /// When it was first raised.
    public var createdAt: Date
    /// When it was answered, expired or cancelled.
    public var resolvedAt: Date?
    /// Who resolved it: the answering actor's id, else a command id, `timeout`, or a
    /// caller-given label.
    public var resolvedBy: String?
    /// For a question asked inside a subgraph: the subgraph's namespace (``Interrupt/namespace``).
    /// Stored by both checkpointers (PostgreSQL since migration 0003).
    public var namespace: String?
    /// Who may answer, as the interrupt named them or an escalation step replaced them (`nil`:
    /// anyone). Stored by both checkpointers (PostgreSQL since migration 0003); the check itself
    /// reads the interrupt saved with the checkpoint.
    public var approvers: Approvers?
    /// Set on the record an escalation step stages (`remind`, `escalate`), so the interrupt
    /// event published again says why; never stored.
    public var escalationStep: String?

    /// Creates a record.
    public init(
        id: String, threadID: String, checkpointID: CheckpointID, taskID: String, node: String,
        value: JSONValue, status: InterruptStatus, deadline: Date?, onTimeout: TimeoutAction?,
        createdAt: Date, resolvedAt: Date? = nil, resolvedBy: String? = nil, namespace: String? = nil, approvers: Approvers? = nil
    ) {
        self.approvers = approvers
        self.id = id
        self.threadID = threadID
        self.checkpointID = checkpointID
        self.taskID = taskID
        self.node = node
        self.value = value
        self.status = status
        self.deadline = deadline
        self.onTimeout = onTimeout
        self.createdAt = createdAt
        self.resolvedAt = resolvedAt
        self.resolvedBy = resolvedBy
        self.namespace = namespace
    }
}

/// A message to publish once the commit that carries it is durable (the transactional outbox).
public struct OutboxMessage: Sendable, Equatable, Codable {
    /// Unique event id, for consumer-side de-duplication.
    public var id: String
    /// The destination topic.
    public var topic: String
    /// The message key (the thread id).
    public var key: String
    /// The message body.
    public var payload: Data
    /// Message headers.
    public var headers: [String: String]

    /// Creates an outbox message.
    public init(id: String, topic: String, key: String, payload: Data, headers: [String: String] = [:]) {
        self.id = id
        self.topic = topic
        self.key = key
        self.payload = payload
        self.headers = headers
    }
}

/// Where a command stands in the ledger.
///
/// `started` is the only state that changes: the four others are final, and a command whose
/// ledger entry is final is never applied again (redelivery and replay are no-ops).
public enum CommandStatus: String, Sendable, Codable, Hashable, CaseIterable {
    /// Part of its effect is committed (a node failed and is retried, a crash came between
    /// commits, an edit waits for its continuation): a redelivery continues it.
    case started
    /// Its effect is fully committed.
    case applied
    /// Refused with a reason; a `rejected` event was committed with the entry.
    case rejected
    /// Its run kept failing and the thread was ended `failed`.
    case parked
    /// The message went to the dead-letter topic.
    case deadLettered = "dead_lettered"

    /// `true` for every status but ``started``.
    public var isFinal: Bool { self != .started }
}

/// One entry of the command ledger: where a command stands, so it is applied once.
public struct CommandRecord: Sendable, Equatable, Codable {
    /// The command's unique id.
    public var commandID: String
    /// The thread it targeted.
    public var threadID: String
    /// `run`, `resume`, `update_state`, `cancel`, ...
    public var kind: String
    /// Where it stands.
    public var status: CommandStatus
    /// A short outcome (a reason code, the thread status reached).
    public var outcome: String?
    /// Times the worker tried it and failed (stall sweeps count too). Default: 0.
    public var attempts: Int

    /// Creates a ledger entry.
    public init(commandID: String, threadID: String, kind: String, status: CommandStatus, outcome: String? = nil, attempts: Int = 0) {
        self.commandID = commandID
        self.threadID = threadID
        self.kind = kind
        self.status = status
        self.outcome = outcome
        self.attempts = attempts
    }

    /// Whether `other`, an entry with the same id, records the same command: the same thread
    /// and kind. A store never lets an entry of another thread or kind replace this one (the
    /// id was reused by a different command).
    public func isSameCommand(as other: CommandRecord) -> Bool {
        threadID == other.threadID && kind == other.kind
    }
}

/// Rows a caller (the worker) attaches to a commit so they land in the same transaction.
public struct CommitExtras: Sendable, Equatable {
    /// Events to publish after the commit.
    public var outbox: [OutboxMessage]
    /// Ledger entries this commit writes: a new command id is inserted; an entry that is
    /// `started` is updated; a commit naming a command whose entry is already final, or whose
    /// id an entry of another thread or kind holds, fails as a version conflict and writes
    /// nothing (the command was applied meanwhile, or its id is not its own).
    public var commands: [CommandRecord]

    /// Creates extras.
    public init(outbox: [OutboxMessage] = [], commands: [CommandRecord] = []) {
        self.outbox = outbox
        self.commands = commands
    }

    /// Nothing attached.
    public var isEmpty: Bool { outbox.isEmpty && commands.isEmpty }
}

/// A checkpoint being saved, with the blobs of the channels its step changed.
public struct NewCheckpoint: Sendable, Equatable {
    /// The checkpoint.
    public var checkpoint: Checkpoint
    /// Only the channels whose version changed in this checkpoint.
    public var blobs: [ChannelBlob]

    /// Creates one.
    public init(checkpoint: Checkpoint, blobs: [ChannelBlob]) {
        self.checkpoint = checkpoint
        self.blobs = blobs
    }
}

/// Pending writes to save against one checkpoint (new in the same commit, or already stored).
public struct CheckpointWrites: Sendable, Equatable {
    /// The checkpoint the writes belong to.
    public var checkpointID: CheckpointID
    /// The writes; an existing write with the same task id and index is replaced.
    public var writes: [PendingWrite]

    /// Creates a batch.
    public init(checkpointID: CheckpointID, writes: [PendingWrite]) {
        self.checkpointID = checkpointID
        self.writes = writes
    }
}

/// Everything one commit writes for a thread, applied atomically or not at all.
///
/// One call saves what a superstep (or, with exit durability, a whole invocation) produced:
/// the new checkpoints with only their changed channel values, pending writes, the new head
/// and status compared-and-set on the thread version, the interrupt table changes, and the
/// caller's extra rows (outbox, command ledger).
public struct StepCommit: Sendable, Equatable {
    /// The thread.
    public var threadID: String
    /// The thread version the writer read; 0 means "the thread must not exist yet".
    /// A mismatch fails with `GraphError.Code.threadVersionConflict` and writes nothing.
    public var expectedVersion: Int64
    /// The graph writing.
    public var graph: GraphIdentity
    /// New checkpoints, parents before children.
    public var checkpoints: [NewCheckpoint]
    /// Pending writes to save.
    public var writes: [CheckpointWrites]
    /// The thread's new head.
    public var head: CheckpointID
    /// The thread's new status.
    public var status: ThreadStatus
    /// Why it failed, when `status` is `.failed`.
    public var failureReason: String?
    /// Interrupt records to insert or replace (by id).
    public var interrupts: [InterruptRecord]
    /// Rows the caller attaches.
    public var extras: CommitExtras
    /// When the commit was made.
    public var committedAt: Date

    /// Creates a commit.
    public init(
        threadID: String, expectedVersion: Int64, graph: GraphIdentity, checkpoints: [NewCheckpoint],
        writes: [CheckpointWrites], head: CheckpointID, status: ThreadStatus, failureReason: String? = nil,
        interrupts: [InterruptRecord] = [], extras: CommitExtras = CommitExtras(), committedAt: Date
    ) {
        self.threadID = threadID
        self.expectedVersion = expectedVersion
        self.graph = graph
        self.checkpoints = checkpoints
        self.writes = writes
        self.head = head
        self.status = status
        self.failureReason = failureReason
        self.interrupts = interrupts
        self.extras = extras
        self.committedAt = committedAt
    }
}

/// Which checkpoints `history` returns.
public struct HistoryQuery: Sendable, Equatable {
    /// At most this many, newest first. Default: no limit.
    public var limit: Int?
    /// Only checkpoints with an id below this one (paging). Default: none.
    public var before: CheckpointID?
    /// Only checkpoints whose ``Checkpoint/metadataObject`` has every one of these members.
    /// Default: empty (no filter).
    public var filter: [String: JSONValue]

    /// Creates a query.
    public init(limit: Int? = nil, before: CheckpointID? = nil, filter: [String: JSONValue] = [:]) {
        self.limit = limit
        self.before = before
        self.filter = filter
    }

    /// `true` when `checkpoint` passes ``before`` and ``filter``.
    public func matches(_ checkpoint: Checkpoint) -> Bool {
        if let before, checkpoint.id >= before { return false }
        if filter.isEmpty { return true }
        let object = checkpoint.metadataObject
        return filter.allSatisfy { object[$0.key] == $0.value }
    }
}
