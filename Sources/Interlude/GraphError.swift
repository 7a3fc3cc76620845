/// The one error type of the `Interlude` runtime.
///
/// Every error a graph author or caller can cause says what was wrong, where, and what to do.
/// Match on ``code``; new codes may be added without breaking callers.
public struct GraphError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case invalidGraph, unknownNode, invalidUpdate, ambiguousUpdate
            case checkpointerRequired, threadIDRequired, threadNotFound, checkpointNotFound
            case emptyCommand, noPendingInterrupt, unknownInterrupt, alreadyResolved, ambiguousResume
            case invalidResumeValue, interruptOutsideNode, recursionLimit, nodeFailed
            case threadVersionConflict, graphVersionMismatch, encodingFailed, decodingFailed
            case timeout, storage, duplicateCommand
            case notAllowed, alreadyVoted
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// `compile()` found a structural problem (unknown node, no entry, unreachable node, ...).
        public static let invalidGraph = Code(.invalidGraph)
        /// A node name that the graph does not have.
        public static let unknownNode = Code(.unknownNode)
        /// A write that breaks a channel's rules (two writes to a last-value field in one step).
        public static let invalidUpdate = Code(.invalidUpdate)
        /// `updateState` without `asNode` where several nodes could have written.
        public static let ambiguousUpdate = Code(.ambiguousUpdate)
        /// The operation needs a checkpointer and the graph was compiled without one.
        public static let checkpointerRequired = Code(.checkpointerRequired)
        /// The operation needs a thread id and none was given.
        public static let threadIDRequired = Code(.threadIDRequired)
        /// The thread has no checkpoint yet.
        public static let threadNotFound = Code(.threadNotFound)
        /// The checkpoint id is not in that thread.
        public static let checkpointNotFound = Code(.checkpointNotFound)
        /// A `Command` with nothing in it, or a resume without a value.
        public static let emptyCommand = Code(.emptyCommand)
        /// A resume arrived for a thread that is not waiting on any interrupt.
        public static let noPendingInterrupt = Code(.noPendingInterrupt)
        /// A resume named an interrupt id that the thread never raised.
        public static let unknownInterrupt = Code(.unknownInterrupt)
        /// A resume named an interrupt that was already answered or expired.
        public static let alreadyResolved = Code(.alreadyResolved)
        /// A plain resume value while several interrupts are pending.
        public static let ambiguousResume = Code(.ambiguousResume)
        /// A resume value that does not decode into the type the node asked for.
        public static let invalidResumeValue = Code(.invalidResumeValue)
        /// `interrupt(_:)` was called outside a running node.
        public static let interruptOutsideNode = Code(.interruptOutsideNode)
        /// The run took more supersteps than its recursion limit allows.
        public static let recursionLimit = Code(.recursionLimit)
        /// A node threw; ``GraphError/underlying`` holds its error.
        public static let nodeFailed = Code(.nodeFailed)
        /// The thread moved on since it was read (another worker or call committed first).
        public static let threadVersionConflict = Code(.threadVersionConflict)
        /// The thread was written by a graph name or version this graph does not accept.
        public static let graphVersionMismatch = Code(.graphVersionMismatch)
        /// A value could not be encoded as JSON.
        public static let encodingFailed = Code(.encodingFailed)
        /// Stored bytes could not be decoded.
        public static let decodingFailed = Code(.decodingFailed)
        /// A human wait passed its deadline with no default answer.
        public static let timeout = Code(.timeout)
        /// The checkpointer failed; ``GraphError/underlying`` holds the storage error.
        public static let storage = Code(.storage)
        /// A commit carried a command id the ledger already has: the command was applied before.
        public static let duplicateCommand = Code(.duplicateCommand)
        /// The resume's actor is not among the interrupt's approvers (or the resume has no actor).
        public static let notAllowed = Code(.notAllowed)
        /// The resume's actor already voted on an interrupt that needs a quorum.
        public static let alreadyVoted = Code(.alreadyVoted)

        public var description: String { base.rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What was wrong, where, and what to do. Never contains state values or secrets.
    public var message: String
    /// The error that caused this one, if any (a node's error, a storage error).
    public var underlying: (any Error)?
    /// The source file that raised the error.
    public var file: String
    /// The source line that raised the error.
    public var line: Int

    /// Creates an error.
    public init(
        _ code: Code, _ message: String, underlying: (any Error)? = nil,
        file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.underlying = underlying
        self.file = file
        self.line = line
    }

    /// `true` when trying the same operation again may succeed (a version conflict after
    /// re-reading, a storage error that is itself retriable).
    public var isRetriable: Bool {
        if code == .threadVersionConflict { return true }
        if code == .storage, let retriable = underlying as? RetriableError { return retriable.isRetriable }
        return false
    }

    public var description: String {
        var text = "GraphError.\(code): \(message)"
        if let underlying { text += " (underlying: \(underlying))" }
        return text
    }
}

/// Errors from storage backends conform so the runtime can tell whether to retry.
public protocol RetriableError: Error {
    /// `true` when the same operation may succeed if tried again.
    var isRetriable: Bool { get }
}
