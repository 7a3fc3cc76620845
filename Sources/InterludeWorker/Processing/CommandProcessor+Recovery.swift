import Foundation
import Interlude

extension CommandProcessor {
    /// Gives up a command that failed for good (its message goes to the dead-letter topic):
    /// when the command left its thread part-way (`started`), the thread is parked (ended
    /// `failed` with the reason, a `failed` event) so nothing waits on it; otherwise the ledger
    /// records the dead letter, so a redelivery of the same message is not tried again.
    /// - Returns: The outbox rows committed (to publish).
    public func abandon(_ command: CommandMessage, reason: DeadLetterReason) async -> [OutboxMessage] {
        let staging = OutboxStaging()
        do {
            let entry = try await store.command(command.id)
            // The entry of another command that uses the same id is not this command's to end.
            if let entry, idClash(command, ledger: entry) != nil { return [] }
            if entry?.status == .started,
                try await park(command.ref, reason: "dead-lettered (\(reason.code)): \(reason.detail)", staging: staging)
            {
                return staging.rows
            }
        } catch {
            logger.warning("parking the thread of a dead-lettered command failed", metadata: ["interlude.thread_id": "\(command.threadID)", "interlude.command_id": "\(command.id)", "error": "\(error)"])
        }
        await recordDeadLetter(command, reason: reason)
        return []
    }

    /// Continues a command the stall sweep claimed (left `started` with no progress), or parks
    /// its thread once it was tried `maxAttempts` times.
    func recoverStalled(_ record: CommandRecord, maxAttempts: Int) async throws -> Processed {
        let staging = OutboxStaging()
        let command = CommandRef(id: record.commandID, threadID: record.threadID, kind: record.kind)
        guard record.attempts <= maxAttempts else {
            let reason = "stalled: command '\(record.commandID)' made no progress after \(maxAttempts) attempts"
            if try await park(command, reason: reason, staging: staging) {
                return Processed(result: .parked(reason), outbox: staging.rows)
            }
            _ = try await store.finishCommand(CommandRecord(commandID: command.id, threadID: command.threadID, kind: command.kind, status: .parked, outcome: "stalled"), outbox: [])
            return Processed(result: .parked(reason), outbox: [])
        }
        let result = try await continueCommand(command, staging: staging)
        return Processed(result: result, outbox: staging.rows)
    }

    /// Ends a thread `failed` with `reason` for a command, if it is still `ready`.
    /// - Returns: `false` when there was nothing to park.
    func park(_ command: CommandRef, reason: String, staging: OutboxStaging) async throws -> Bool {
        guard let record = try await store.thread(command.threadID), record.status == .ready,
            let graph = registry.graph(named: record.graph.name)
        else { return false }
        var config = RunConfig(recursionLimit: configuration.recursionLimit, durability: configuration.durability, metadata: ["command_id": .string(command.id)], actor: command.id)
        config.commitHook = hook(for: command, graph: graph.identity, ledger: .fixed(.parked), staging: staging)
        try await graph.fail(command.threadID, reason, config)
        logger.warning("thread parked", metadata: ["interlude.thread_id": "\(command.threadID)", "interlude.command_id": "\(command.id)", "interlude.reason": "\(reason)"])
        return true
    }

    /// Fires the passed deadlines of one thread: the declared default answers and the run
    /// continues, or the thread ends `failed` (timeout).
    /// - Returns: The outbox rows committed, or `nil` when the thread moved on meanwhile.
    func fireDeadlines(thread threadID: String, now: Date) async throws -> [OutboxMessage]? {
        guard let record = try await store.thread(threadID), let graph = registry.graph(named: record.graph.name) else { return [] }
        let staging = OutboxStaging()
        var config = RunConfig(durability: configuration.durability, actor: "timeout")
        config.commitHook = hook(for: nil, graph: graph.identity, ledger: nil, staging: staging)
        do {
            _ = try await graph.expire(threadID, now, config)
        } catch let error as GraphError where error.code == .threadVersionConflict {
            return nil
        }
        return staging.rows
    }

    /// Parks a thread whose deadline could not be fired after many attempts.
    func parkForDeadline(thread threadID: String, reason: String) async throws -> [OutboxMessage] {
        let staging = OutboxStaging()
        guard let record = try await store.thread(threadID), let graph = registry.graph(named: record.graph.name) else { return [] }
        var config = RunConfig(durability: configuration.durability, actor: "timeout")
        config.commitHook = hook(for: nil, graph: graph.identity, ledger: nil, staging: staging, sweep: "parked")
        try await graph.fail(threadID, reason, config)
        return staging.rows
    }
}
