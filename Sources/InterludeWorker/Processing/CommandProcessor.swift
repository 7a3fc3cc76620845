import Foundation
import Interlude
import Logging
import Synchronization

/// What processing one command did.
public enum ProcessResult: Sendable, Equatable {
    /// Applied; the thread is now in this status.
    case applied(ThreadStatus)
    /// The ledger already had this command id: nothing was done again.
    case duplicate
    /// Refused with a reason code; a `rejected` event says why.
    case rejected(String)
    /// Not a valid command; it belongs on the dead-letter topic.
    case deadLetter(DeadLetterReason)
    /// The run kept failing and was parked (thread `failed`, `failed` event).
    case parked(String)
}

/// A processed command: what happened, and the outbox rows its commits made durable (for
/// the relay to publish at once).
public struct Processed: Sendable {
    /// What happened.
    public var result: ProcessResult
    /// Outbox rows committed while processing.
    public var outbox: [OutboxMessage]
}

/// Collects the outbox rows hooks attach, keeping only those whose commit went through.
final class OutboxStaging: Sendable {
    private let state = Mutex<(committed: [OutboxMessage], last: [OutboxMessage])>(([], []))

    /// A hook attached these rows to the commit about to happen.
    func stage(_ rows: [OutboxMessage]) {
        state.withLock { s in
            s.committed += s.last
            s.last = rows
        }
    }

    /// The last commit failed: its rows never became durable.
    func dropLast() { state.withLock { $0.last = [] } }

    /// Every row staged by commits that went through.
    var rows: [OutboxMessage] { state.withLock { $0.committed + $0.last } }
}

/// Applies commands to threads: the Kafka-independent heart of the worker.
///
/// Every effect of a command commits in one transaction with its ledger entry and its
/// events (the outbox), so redelivery or replay of the same command id changes nothing.
public struct CommandProcessor: Sendable {
    /// Settings.
    public struct Configuration: Sendable {
        /// Topic names events are addressed to. Default: prefix `interlude.`.
        public var topics = TopicNames()
        /// Attempts for a run whose node keeps failing before it is parked. Default: 3.
        public var maxAttempts = 3
        /// First wait between attempts, doubled each time. Default: 100 ms.
        public var retryDelay: Duration = .milliseconds(100)
        /// Publish a `step` event per commit. Default: true.
        public var stepEvents = true
        /// Supersteps allowed per command when the command does not say. Default: 25.
        public var recursionLimit = 25
        /// Commit once per command (`.exit`) or after every superstep (`.sync`). Default: `.exit`.
        public var durability: Durability = .exit

        /// Default settings.
        public init() {}
    }

    let registry: GraphRegistry
    let checkpointer: any Checkpointer
    let configuration: Configuration
    let clock: any GraphClock
    let logger: Logger

    /// Creates a processor.
    public init(registry: GraphRegistry, checkpointer: any Checkpointer, configuration: Configuration = Configuration(), clock: any GraphClock = SystemClock(), logger: Logger) {
        self.registry = registry
        self.checkpointer = checkpointer
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    /// Applies a command read from `topic`.
    public func process(_ command: CommandMessage, topic: String) async throws -> ProcessResult {
        try await processCollecting(command, topic: topic).result
    }

    /// Applies a command read from `topic` and returns the outbox rows it committed.
    public func processCollecting(_ command: CommandMessage, topic: String) async throws -> Processed {
        let staging = OutboxStaging()
        let result = try await process(command, topic: topic, staging: staging)
        return Processed(result: result, outbox: staging.rows)
    }

    private func process(_ command: CommandMessage, topic: String, staging: OutboxStaging) async throws -> ProcessResult {
        let allowed = topic == configuration.topics.resumes ? ["resume"] : ["run", "update_state", "cancel"]
        guard allowed.contains(command.type) else {
            return .deadLetter(DeadLetterReason("wrong_topic", "a '\(command.type)' command does not belong on \(topic); send it to \(command.type == "resume" ? configuration.topics.resumes : configuration.topics.runs)"))
        }
        if try await checkpointer.command(command.id) != nil { return .duplicate }
        var lastConflict: GraphError?
        for _ in 0..<5 {
            do {
                return try await apply(command, staging: staging)
            } catch let error as GraphError where error.code == .threadVersionConflict {
                staging.dropLast()
                lastConflict = error
                if try await checkpointer.command(command.id) != nil { return .duplicate }
            } catch let error as GraphError where error.code == .duplicateCommand {
                staging.dropLast()
                return .duplicate
            }
        }
        throw lastConflict ?? GraphError(.threadVersionConflict, "thread '\(command.threadID)' kept moving")
    }

    private func apply(_ command: CommandMessage, staging: OutboxStaging) async throws -> ProcessResult {
        let record = try await checkpointer.thread(command.threadID)
        let graphName: String
        if case .run(let name, _, _, _) = command.body {
            graphName = name
        } else if let record {
            graphName = record.graph.name
        } else {
            return try await reject(command, staging: staging, "unknown_thread", "thread '\(command.threadID)' does not exist; start it with a run command")
        }
        guard let graph = registry.graph(named: graphName) else {
            if case .run = command.body {
                return .deadLetter(DeadLetterReason("unknown_graph", "no graph named '\(graphName)' is registered on this worker; registered: \(registry.names.joined(separator: ", "))"))
            }
            return try await reject(command, staging: staging, "unknown_graph", "thread '\(command.threadID)' runs graph '\(graphName)', which this worker does not host")
        }
        var config = RunConfig(recursionLimit: configuration.recursionLimit, durability: configuration.durability, metadata: ["command_id": .string(command.id)], actor: command.id)
        config.commitHook = hook(for: command, graph: graph.identity, ledger: true, staging: staging)
        do {
            switch command.body {
            case .run(_, let input, let options, let ifBusy):
                if ifBusy == .reject, let record, record.status == .interrupted || record.status == .ready {
                    return try await reject(command, staging: staging, "thread_busy", "thread '\(command.threadID)' is \(record.status.rawValue); resume it, cancel it, or send the run with if_busy 'restart'")
                }
                if let limit = options?.recursionLimit { config.recursionLimit = limit }
                if let metadata = options?.metadata { config.metadata.merge(metadata) { _, new in new } }
                config.interruptBefore = options?.interruptBefore
                config.interruptAfter = options?.interruptAfter
                return try await withRetries(command, graph: graph, config: config, staging: staging) { try await graph.run(input, command.threadID, $0) }
            case .resume(let value, let values, let expected):
                if let expected, record?.head != expected {
                    return try await reject(command, staging: staging, "checkpoint_mismatch", "the resume expects checkpoint \(expected) but thread '\(command.threadID)' is at \(record?.head?.description ?? "nothing")")
                }
                let resume: Resume = values.map { .byID($0) } ?? .value(value ?? .null)
                return try await withRetries(command, graph: graph, config: config, staging: staging) { try await graph.resume(resume, command.threadID, $0) }
            case .updateState(let values, let asNode, let checkpointID, let continueRun):
                _ = try await graph.updateState(values, asNode, checkpointID, command.threadID, config)
                if continueRun {
                    var next = config
                    next.commitHook = hook(for: command, graph: graph.identity, ledger: false, staging: staging)
                    return try await withRetries(command, graph: graph, config: next, staging: staging) { try await graph.proceed(command.threadID, $0) }
                }
                return .applied(try await checkpointer.thread(command.threadID)?.status ?? .ready)
            case .cancel(let reason):
                try await graph.fail(command.threadID, "cancelled" + (reason.map { ": \($0)" } ?? ""), config)
                return .applied(.failed)
            }
        } catch let error as GraphError {
            if let code = Self.reasonCode(error) { return try await reject(command, staging: staging, code, error.message) }
            throw error
        }
    }

    /// Runs a command's effect, re-trying failed nodes with backoff and parking the run
    /// after ``Configuration/maxAttempts``.
    private func withRetries(
        _ command: CommandMessage, graph: WorkerGraph, config: RunConfig, staging: OutboxStaging,
        _ body: (RunConfig) async throws -> GraphOutcome
    ) async throws -> ProcessResult {
        var attempt = 1
        var delay = configuration.retryDelay
        var config = config
        var first = true
        while true {
            do {
                let outcome = first ? try await body(config) : try await graph.proceed(command.threadID, config)
                return .applied(outcome.status)
            } catch let error as GraphError where error.code == .nodeFailed {
                // The failing commit saved the command's effect so far, with its ledger entry.
                first = false
                config.commitHook = hook(for: command, graph: graph.identity, ledger: false, staging: staging)
                if attempt >= configuration.maxAttempts {
                    let reason = "parked after \(attempt) attempts: \(error.message)"
                    var parking = config
                    parking.commitHook = hook(for: command, graph: graph.identity, ledger: false, staging: staging)
                    try await graph.fail(command.threadID, reason, parking)
                    logger.warning("run parked", metadata: ["interlude.thread_id": "\(command.threadID)", "interlude.command_id": "\(command.id)"])
                    return .parked(reason)
                }
                attempt += 1
                try await Task.sleep(for: delay)
                delay = delay * 2
            }
        }
    }

    /// The outbox rows and ledger entry a commit carries.
    func hook(for command: CommandMessage?, graph: GraphIdentity, ledger: Bool, staging: OutboxStaging) -> @Sendable (CommitContext) throws -> CommitExtras {
        let topics = configuration.topics
        let stepEvents = configuration.stepEvents
        let clock = clock
        return { context in
            var extras = CommitExtras()
            let now = clock.now
            func publish(_ topic: String, _ event: JSONValue) {
                extras.outbox.append(OutboxMessage(id: event["id"]?.stringValue ?? UUID().uuidString, topic: topic, key: context.threadID, payload: event.jsonData))
            }
            if ledger, context.isFirst, let command {
                extras.commands.append(CommandRecord(commandID: command.id, threadID: command.threadID, kind: command.type, status: "applied", outcome: context.status.rawValue))
            }
            for record in context.newInterrupts { publish(topics.reviews, EventMessages.review(record, graph: graph, at: now)) }
            if stepEvents {
                publish(topics.events, EventMessages.step(threadID: context.threadID, checkpointID: context.head, step: context.step, status: context.status, commandID: command?.id, at: now))
            }
            if context.isFinal {
                switch context.status {
                case .completed:
                    publish(topics.events, EventMessages.completed(threadID: context.threadID, checkpointID: context.head, values: context.values ?? .null, at: now))
                case .failed:
                    publish(topics.events, EventMessages.failed(threadID: context.threadID, checkpointID: context.head, reason: context.failure ?? "failed", commandID: command?.id, at: now))
                default: break
                }
            }
            staging.stage(extras.outbox)
            return extras
        }
    }

    /// Refuses a command: its ledger entry and a `rejected` event, in one transaction.
    private func reject(_ command: CommandMessage, staging: OutboxStaging, _ code: String, _ message: String) async throws -> ProcessResult {
        let event = EventMessages.rejected(threadID: command.threadID, commandID: command.id, code: code, message: message, at: clock.now)
        let extras = CommitExtras(
            outbox: [OutboxMessage(id: event["id"]!.stringValue!, topic: configuration.topics.events, key: command.threadID, payload: event.jsonData)],
            commands: [CommandRecord(commandID: command.id, threadID: command.threadID, kind: command.type, status: "rejected", outcome: code)])
        do {
            try await checkpointer.record(extras)
        } catch let error as GraphError where error.code == .duplicateCommand {
            return .duplicate
        }
        staging.stage(extras.outbox)
        logger.info("command rejected", metadata: ["interlude.thread_id": "\(command.threadID)", "interlude.command_id": "\(command.id)", "interlude.reason": "\(code)"])
        return .rejected(code)
    }

    /// The `rejected` reason code for a runtime error a command can cause, or `nil` for
    /// errors that are not the command's fault.
    static func reasonCode(_ error: GraphError) -> String? {
        switch error.code {
        case .noPendingInterrupt: "no_pending_interrupt"
        case .unknownInterrupt: "unknown_interrupt"
        case .alreadyResolved: "already_resolved"
        case .invalidResumeValue, .emptyCommand: "invalid_value"
        case .ambiguousResume: "ambiguous_resume"
        case .graphVersionMismatch: "graph_version_mismatch"
        case .threadNotFound: "unknown_thread"
        case .checkpointNotFound: "unknown_checkpoint"
        case .unknownNode: "unknown_node"
        case .ambiguousUpdate: "ambiguous_update"
        case .invalidUpdate, .decodingFailed, .encodingFailed: "invalid_input"
        case .recursionLimit: "recursion_limit"
        default: nil
        }
    }
}
