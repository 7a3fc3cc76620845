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
/// events (the outbox). The ledger says where the command stands: a redelivered command whose
/// entry is final (`applied`, `rejected`, `parked`, `dead_lettered`) changes nothing, and one
/// whose effect was only partly committed (`started`) is continued, never skipped.
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
        /// Commands of different threads processed together in one batch (one round trip to
        /// load them, one to commit them). Default: 64.
        public var maxBatch = 64
        /// Fault-injection points for tests. Default: none.
        public var hooks = WorkerHooks()
        /// Signed answers: required or not, and the accepted keys. Default: not required, no keys.
        public var signing = ResumeSigning()

        /// Default settings.
        public init() {}
    }

    let registry: GraphRegistry
    let store: any WorkerStore
    let configuration: Configuration
    let clock: any GraphClock
    let logger: Logger

    /// Creates a processor. Every graph of `registry` stores its threads in `store`.
    public init(registry: GraphRegistry, store: any WorkerStore, configuration: Configuration = Configuration(), clock: any GraphClock = SystemClock(), logger: Logger) {
        self.registry = registry.bound(to: store)
        self.store = store
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    /// Applies a command read from `topic`.
    public func process(_ command: CommandMessage, topic: String) async throws -> ProcessResult {
        try await processCollecting(command, topic: topic).result
    }

    /// Applies a command read from `topic` and returns the outbox rows it committed.
    /// - Throws: What the store throws when it cannot be reached or refuses the command's data
    ///   (``FailureKind`` decides whether the caller retries or dead-letters).
    public func processCollecting(_ command: CommandMessage, topic: String) async throws -> Processed {
        let staging = OutboxStaging()
        let result = try await process(command, topic: topic, staging: staging)
        return Processed(result: result, outbox: staging.rows)
    }

    /// Where a command belongs, or why it does not belong on `topic`.
    func misrouted(_ command: CommandMessage, topic: String) -> DeadLetterReason? {
        let allowed = topic == configuration.topics.resumes ? ["resume"] : ["run", "update_state", "cancel"]
        guard !allowed.contains(command.type) else { return nil }
        return DeadLetterReason("wrong_topic", "a '\(command.type)' command does not belong on \(topic); send it to \(command.type == "resume" ? configuration.topics.resumes : configuration.topics.runs)")
    }

    private func process(_ command: CommandMessage, topic: String, staging: OutboxStaging) async throws -> ProcessResult {
        if let reason = misrouted(command, topic: topic) { return .deadLetter(reason) }
        var ledger = try await store.command(command.id)
        var lastConflict: GraphError?
        for _ in 0..<5 {
            if let ledger, let clash = idClash(command, ledger: ledger) { return .deadLetter(clash) }
            if let ledger, ledger.status.isFinal { return .duplicate }
            do {
                return try await apply(command, continuing: ledger != nil, staging: staging)
            } catch let error as GraphError where error.code == .threadVersionConflict || error.code == .duplicateCommand {
                staging.dropLast()
                lastConflict = error
                ledger = try await store.command(command.id)
            }
        }
        throw lastConflict ?? GraphError(.threadVersionConflict, "thread '\(command.threadID)' kept moving")
    }

    private func apply(_ command: CommandMessage, continuing: Bool, staging: OutboxStaging) async throws -> ProcessResult {
        if continuing { return try await continueCommand(command.ref, staging: staging) }
        let record = try await store.thread(command.threadID)
        let graphName: String
        if case .run(let name, _, _, _) = command.body {
            graphName = name
        } else if let record {
            graphName = record.graph.name
        } else {
            return try await reject(command.ref, staging: staging, "unknown_thread", "thread '\(command.threadID)' does not exist; start it with a run command")
        }
        guard let graph = registry.graph(named: graphName) else {
            if case .run = command.body { return .deadLetter(unknownGraph(graphName)) }
            return try await reject(command.ref, staging: staging, "unknown_graph", "thread '\(command.threadID)' runs graph '\(graphName)', which this worker does not host")
        }
        var config = runConfig(for: command, graph: graph, ledger: .progress, staging: staging)
        do {
            switch command.body {
            case .run(_, let input, _, let ifBusy):
                if ifBusy == .reject, let record, record.status == .interrupted || record.status == .ready {
                    return try await reject(command.ref, staging: staging, "thread_busy", "thread '\(command.threadID)' is \(record.status.rawValue); resume it, cancel it, or send the run with if_busy 'restart'")
                }
                return try await withRetries(command.ref, graph: graph, config: config, staging: staging) { try await graph.run(input, command.threadID, $0) }
            case .resume(let value, let values, let expected):
                if let expected, record?.head != expected {
                    return try await reject(command.ref, staging: staging, "checkpoint_mismatch", "the resume expects checkpoint \(expected) but thread '\(command.threadID)' is at \(record?.head?.description ?? "nothing")")
                }
                if let refusal = try await signatureRefusal(command) { return try await reject(command.ref, staging: staging, refusal.code, refusal.message) }
                let resume: Resume = values.map { .byID($0) } ?? .value(value ?? .null)
                return try await withRetries(command.ref, graph: graph, config: config, staging: staging) { try await graph.resume(resume, command.threadID, $0) }
            case .updateState(let values, let asNode, let checkpointID, let continueRun):
                var edit = config
                edit.commitHook = hook(for: command.ref, graph: graph.identity, ledger: .fixed(continueRun ? .started : .applied), staging: staging)
                _ = try await graph.updateState(values, asNode, checkpointID, command.threadID, edit)
                if continueRun {
                    configuration.hooks.reached(.betweenUpdateAndContinue)
                    if Task.isCancelled { throw CancellationError() }
                    return try await withRetries(command.ref, graph: graph, config: config, staging: staging) { try await graph.proceed(command.threadID, $0) }
                }
                return .applied(try await store.thread(command.threadID)?.status ?? .ready)
            case .cancel(let reason):
                config.commitHook = hook(for: command.ref, graph: graph.identity, ledger: .fixed(.applied), staging: staging)
                try await graph.fail(command.threadID, "cancelled" + (reason.map { ": \($0)" } ?? ""), config)
                return .applied(.failed)
            }
        } catch let error as GraphError {
            if let code = Self.reasonCode(error) { return try await reject(command.ref, staging: staging, code, error.message) }
            throw error
        }
    }

    /// A command whose effect was only partly committed (a crash or a failure between its
    /// commits): the thread continues from its head, and the command is finished there.
    func continueCommand(_ command: CommandRef, staging: OutboxStaging) async throws -> ProcessResult {
        guard let record = try await store.thread(command.threadID), let graph = registry.graph(named: record.graph.name) else {
            return try await reject(command, staging: staging, "unknown_thread", "thread '\(command.threadID)' of the partly applied command no longer exists or its graph is not hosted here")
        }
        guard record.status == .ready else {
            // The thread went on past this command (it paused or ended): nothing is left to do.
            _ = try await store.finishCommand(CommandRecord(commandID: command.id, threadID: command.threadID, kind: command.kind, status: .applied, outcome: record.status.rawValue), outbox: [])
            return .applied(record.status)
        }
        logger.info("continuing a partly applied command", metadata: ["interlude.thread_id": "\(command.threadID)", "interlude.command_id": "\(command.id)"])
        var config = RunConfig(recursionLimit: configuration.recursionLimit, durability: configuration.durability, metadata: ["command_id": .string(command.id)], actor: command.id)
        config.commitHook = hook(for: command, graph: graph.identity, ledger: .progress, staging: staging)
        do {
            return try await withRetries(command, graph: graph, config: config, staging: staging) { try await graph.proceed(command.threadID, $0) }
        } catch let error as GraphError {
            if let code = Self.reasonCode(error) { return try await reject(command, staging: staging, code, error.message) }
            throw error
        }
    }

    /// The run settings of a command, with its ledger entry and events attached to every commit.
    func runConfig(for command: CommandMessage, graph: WorkerGraph, ledger: LedgerPolicy, staging: OutboxStaging) -> RunConfig {
        var config = RunConfig(recursionLimit: configuration.recursionLimit, durability: configuration.durability, metadata: ["command_id": .string(command.id)], actor: command.id)
        config.commitHook = hook(for: command.ref, graph: graph.identity, ledger: ledger, staging: staging)
        config.answeredBy = command.actor
        if case .run(_, _, let options, _) = command.body { apply(options, to: &config) }
        return config
    }

    private func apply(_ options: CommandConfig?, to config: inout RunConfig) {
        guard let options else { return }
        if let limit = options.recursionLimit { config.recursionLimit = limit }
        if let metadata = options.metadata { config.metadata.merge(metadata) { _, new in new } }
        config.interruptBefore = options.interruptBefore
        config.interruptAfter = options.interruptAfter
    }

    /// Why `command` cannot be the command whose ledger entry holds its id: an entry of another
    /// thread or another kind belongs to a different command that reused the id, not to an
    /// earlier delivery of this one. `nil` when the entry is this command's own.
    ///
    /// Such a command is dead-lettered: skipping it as a duplicate would lose it without a
    /// word, and continuing it would write into the other command's entry.
    func idClash(_ command: CommandMessage, ledger: CommandRecord) -> DeadLetterReason? {
        guard ledger.threadID != command.threadID || ledger.kind != command.type else { return nil }
        return DeadLetterReason(
            "duplicate_id",
            "command id '\(command.id)' is already used by a '\(ledger.kind)' command of thread '\(ledger.threadID)', so this '\(command.type)' command of thread '\(command.threadID)' was not applied; command ids must be unique: send it again with a new id")
    }

    func unknownGraph(_ name: String) -> DeadLetterReason {
        DeadLetterReason("unknown_graph", "no graph named '\(name)' is registered on this worker; registered: \(registry.names.joined(separator: ", "))")
    }

    /// Runs a command's effect, re-trying failed nodes with backoff and parking the run
    /// after ``Configuration/maxAttempts``.
    private func withRetries(
        _ command: CommandRef, graph: WorkerGraph, config: RunConfig, staging: OutboxStaging,
        _ body: (RunConfig) async throws -> GraphOutcome
    ) async throws -> ProcessResult {
        var attempt = 1
        var delay = configuration.retryDelay
        var first = true
        while true {
            do {
                let outcome = first ? try await body(config) : try await graph.proceed(command.threadID, config)
                return .applied(outcome.status)
            } catch let error as GraphError where error.code == .nodeFailed {
                // The failing commit saved the command's effect so far; its ledger entry says
                // `started`, so a crash from here on is continued on redelivery.
                first = false
                configuration.hooks.reached(.afterFailureCommit)
                // Cancelled (shutdown past its grace): the next owner continues the command.
                if Task.isCancelled { throw CancellationError() }
                if attempt >= configuration.maxAttempts {
                    let reason = "parked after \(attempt) attempts: \(error.message)"
                    var parking = config
                    parking.commitHook = hook(for: command, graph: graph.identity, ledger: .fixed(.parked), staging: staging)
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

    /// What a commit writes to a command's ledger entry.
    enum LedgerPolicy: Sendable {
        /// `applied` once the run stopped where it should (paused or ended), otherwise
        /// `started` (a node failed, a step of a `.sync` run, the recursion limit).
        case progress
        /// Always this status.
        case fixed(CommandStatus)

        func status(_ context: CommitContext) -> CommandStatus {
            switch self {
            case .progress: context.isFinal && context.status != .ready ? .applied : .started
            case .fixed(let status): status
            }
        }
    }

    /// The outbox rows and ledger entry a commit carries.
    /// - Parameter sweep: For the deadline sweep's commits (no `command`), what the sweep
    ///   does (`deadline` or `parked`); their event ids come from ``SweepEventKeys``.
    func hook(
        for command: CommandRef?, graph: GraphIdentity, ledger: LedgerPolicy?, staging: OutboxStaging, sweep: String = "deadline"
    ) -> @Sendable (CommitContext) throws -> CommitExtras {
        let topics = configuration.topics
        let stepEvents = configuration.stepEvents
        let clock = clock
        let sweepKeys = command == nil ? SweepEventKeys(action: sweep) : nil
        return { context in
            var extras = CommitExtras()
            let now = clock.now
            let sweepKey = sweepKeys?.next(context)
            func publish(_ topic: String, _ event: JSONValue) {
                extras.outbox.append(OutboxMessage(id: event["id"]?.stringValue ?? UUID().uuidString, topic: topic, key: context.threadID, payload: event.jsonData))
            }
            if let ledger, let command {
                extras.commands.append(CommandRecord(commandID: command.id, threadID: command.threadID, kind: command.kind, status: ledger.status(context), outcome: context.status.rawValue))
                extras.commands += Self.signatureUse(command, first: context.isFirst)
            }
            for record in context.newInterrupts { publish(topics.reviews, EventMessages.review(record, graph: graph, at: now)) }
            if stepEvents {
                publish(topics.events, EventMessages.step(threadID: context.threadID, checkpointID: context.head, step: context.step, status: context.status, commandID: command?.id, sweepKey: sweepKey, actor: command?.actor, resolved: context.interruptChanges, at: now))
            }
            if context.isFinal {
                switch context.status {
                case .completed:
                    publish(topics.events, EventMessages.completed(threadID: context.threadID, checkpointID: context.head, values: context.values ?? .null, at: now))
                case .failed:
                    publish(topics.events, EventMessages.failed(threadID: context.threadID, checkpointID: context.head, reason: context.failure ?? "failed", commandID: command?.id, sweepKey: sweepKey, at: now))
                default: break
                }
            }
            staging.stage(extras.outbox)
            return extras
        }
    }

    /// Refuses a command: its final ledger entry and a `rejected` event, in one transaction.
    /// A command that already has a final entry is a duplicate: nothing is published again.
    func reject(_ command: CommandRef, staging: OutboxStaging, _ code: String, _ message: String) async throws -> ProcessResult {
        let event = EventMessages.rejected(threadID: command.threadID, commandID: command.id, code: code, message: message, at: clock.now)
        let outbox = [OutboxMessage(id: event["id"]!.stringValue!, topic: configuration.topics.events, key: command.threadID, payload: event.jsonData)]
        let record = CommandRecord(commandID: command.id, threadID: command.threadID, kind: command.kind, status: .rejected, outcome: code)
        guard try await store.finishCommand(record, outbox: outbox) else { return .duplicate }
        staging.stage(outbox)
        logger.info("command rejected", metadata: ["interlude.thread_id": "\(command.threadID)", "interlude.command_id": "\(command.id)", "interlude.reason": "\(code)"])
        return .rejected(code)
    }

    /// Records that a command went to the dead-letter topic, so a redelivery does not try it
    /// again. Best effort: a store that cannot take the entry (the command is what it
    /// refuses) leaves the ledger without it, and a redelivery is dead-lettered again.
    func recordDeadLetter(_ command: CommandMessage, reason: DeadLetterReason) async {
        let record = CommandRecord(commandID: command.id, threadID: command.threadID, kind: command.type, status: .deadLettered, outcome: reason.code)
        do { _ = try await store.finishCommand(record, outbox: []) } catch {
            logger.debug("the dead-lettered command has no ledger entry", metadata: ["interlude.command_id": "\(command.id)", "error": "\(error)"])
        }
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
        case .timeout: "timed_out"
        case .notAllowed: "not_allowed"
        case .alreadyVoted: "already_voted"
        default: nil
        }
    }
}

/// What a commit's ledger entry and events name: a command's id, thread and kind.
struct CommandRef: Sendable {
    var id: String
    var threadID: String
    var kind: String
    /// Who answered (a resume's actor), shown in its step events.
    var actor: ReviewActor?
    /// A signed resume's ledger id of its signed bytes (see `signatureUse`).
    var signatureKey: String?
}

extension CommandMessage {
    var ref: CommandRef { CommandRef(id: id, threadID: threadID, kind: type, actor: actor, signatureKey: signatureKey) }
}
