import Foundation
import Interlude
import InterludeKafka
import Logging

extension Worker {
    /// One partition's lane: takes batches until the worker drains, processes each to the end
    /// (applied, refused or dead-lettered) and stores its offsets.
    func runLane(_ partition: TopicPartition, lanes: Lanes, letters: KafkaProducer, relay: OutboxRelay) async {
        while let batch = await lanes.nextBatch(partition) {
            let completed = await handle(batch.messages, letters: letters, relay: relay)
            lanes.finish(batch, completed: completed)
            if let roundTrips = store.roundTrips { metrics.postgresRoundTrips(total: roundTrips) }
        }
    }

    /// Processes the messages of one batch (distinct threads of one partition). Dead letters go
    /// through `letters`, the worker's producer for them (see
    /// ``Worker/Configuration/deadLetterProducerConfiguration``).
    /// - Returns: `false` when the worker was cancelled before every message was settled
    ///   (their offsets must not be stored).
    func handle(_ messages: [KafkaMessage], letters: KafkaProducer, relay: OutboxRelay) async -> Bool {
        let started = ContinuousClock.now
        let decoder = CommandDecoder(maxBytes: configuration.maxMessageBytes)
        var items: [CommandProcessor.BatchItem] = []
        var itemMessages: [KafkaMessage] = []
        var refused: [(KafkaMessage, DeadLetterReason)] = []
        for message in messages {
            switch decoder.decode(message.value) {
            case .failure(let reason): refused.append((message, reason))
            case .success(let command):
                items.append(CommandProcessor.BatchItem(command: command, topic: message.topic))
                itemMessages.append(message)
            }
        }
        let outcomes = await processor.processBatch(items)
        var alone: [(KafkaMessage, CommandMessage)] = []
        var outbox: [OutboxMessage] = []
        for (index, outcome) in outcomes.enumerated() {
            switch outcome {
            case .processed(let processed):
                if case .deadLetter(let reason) = processed.result {
                    refused.append((itemMessages[index], reason))
                } else {
                    counters.withLock { $0.count(processed.result) }
                    metrics.command(type: items[index].command.type, result: processed.result.metricLabel, duration: .now - started)
                    outbox += processed.outbox
                }
            case .alone:
                alone.append((itemMessages[index], items[index].command))
            }
        }
        if !outbox.isEmpty {
            configuration.processing.hooks.reached(.afterCommit)
            relay.enqueue(outbox)
            markHealthy()
        }
        if !alone.isEmpty, alone.count < outcomes.count { configuration.processing.hooks.reached(.midBatch) }
        // Commands left to process on their own are of different threads: run them side by side.
        let settled = await withTaskGroup(of: Bool.self) { group in
            for (message, command) in alone {
                group.addTask { await self.handleAlone(message, command, letters: letters, relay: relay, started: started) }
            }
            for (message, reason) in refused {
                group.addTask { await self.deadLetterUntilDone(message, reason: reason, command: nil, letters: letters, relay: relay, started: started) }
            }
            var all = true
            for await done in group { all = all && done }
            return all
        }
        return settled && !Task.isCancelled
    }

    /// Processes one command on its own until it is settled: a failure that is not the
    /// message's fault is retried with backoff for as long as it lasts (the worker reports
    /// not-ready meanwhile); one that is (PostgreSQL refuses its data, it cannot be decoded)
    /// is tried ``Configuration/poisonAttempts`` times, then dead-lettered so the partition
    /// moves on.
    /// - Returns: `false` when cancelled first.
    func handleAlone(_ message: KafkaMessage, _ command: CommandMessage, letters: KafkaProducer, relay: OutboxRelay, started: ContinuousClock.Instant = .now) async -> Bool {
        var delay: Duration = .milliseconds(50)
        var permanentFailures = 0
        while !Task.isCancelled {
            do {
                let processed = try await processor.processCollecting(command, topic: message.topic)
                if case .deadLetter(let reason) = processed.result {
                    return await deadLetterUntilDone(message, reason: reason, command: command, letters: letters, relay: relay, started: started)
                }
                counters.withLock { $0.count(processed.result) }
                metrics.command(type: command.type, result: processed.result.metricLabel, duration: .now - started)
                configuration.processing.hooks.reached(.afterCommit)
                relay.enqueue(processed.outbox)
                markHealthy()
                return true
            } catch {
                switch FailureKind.of(error) {
                case .transient(let why):
                    if Task.isCancelled { return false }
                    health.withLock { $0.failing = why }
                    logger.warning("command failed; retrying", metadata: metadata(message, command, ["error": "\(why)"]))
                case .permanent(let code, let detail):
                    permanentFailures += 1
                    logger.warning("command failed (\(permanentFailures) of \(configuration.poisonAttempts))", metadata: metadata(message, command, ["error": "\(detail)"]))
                    if permanentFailures >= configuration.poisonAttempts {
                        return await deadLetterUntilDone(message, reason: DeadLetterReason(code, detail), command: command, letters: letters, relay: relay, started: started)
                    }
                }
            }
            do { try await Task.sleep(for: delay) } catch { return false }
            delay = min(delay * 2, .seconds(5))
        }
        return false
    }

    /// Sends a message to the dead-letter topic, retrying while the broker is unreachable;
    /// for a decoded command, also gives the command up in the store (see
    /// ``CommandProcessor/abandon(_:reason:)``).
    /// - Returns: `false` when cancelled first.
    func deadLetterUntilDone(_ message: KafkaMessage, reason: DeadLetterReason, command: CommandMessage?, letters: KafkaProducer, relay: OutboxRelay, started: ContinuousClock.Instant = .now) async -> Bool {
        var delay: Duration = .milliseconds(50)
        while !Task.isCancelled {
            do {
                let key = message.key.map { String(decoding: $0, as: UTF8.self) }
                let letter = EventMessages.deadLetter(original: message.value, topic: message.topic, partition: message.partition, offset: message.offset, key: key, reason: reason, at: Date())
                _ = try await letters.send(topic: configuration.topics.dlq, key: message.key, value: Array(letter.jsonData))
                if let command { relay.enqueue(await processor.abandon(command, reason: reason)) }
                counters.withLock { $0.deadLettered += 1 }
                metrics.command(type: command?.type ?? "unknown", result: "dead_lettered", duration: .now - started)
                logger.info("dead-lettered", metadata: metadata(message, command, ["interlude.reason": "\(reason.code)"]))
                return true
            } catch {
                logger.warning("dead-lettering failed; retrying", metadata: metadata(message, command, ["error": "\(error)"]))
            }
            do { try await Task.sleep(for: delay) } catch { return false }
            delay = min(delay * 2, .seconds(5))
        }
        return false
    }

    private func markHealthy() {
        health.withLock { if $0.failing != nil { $0.failing = nil } }
    }

    private func metadata(_ message: KafkaMessage, _ command: CommandMessage?, _ extra: Logger.Metadata) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["kafka.topic": "\(message.topic)", "kafka.partition": "\(message.partition)", "kafka.offset": "\(message.offset)"]
        if let command {
            metadata["interlude.thread_id"] = "\(command.threadID)"
            metadata["interlude.command_id"] = "\(command.id)"
        }
        return metadata.merging(extra) { _, new in new }
    }

    // MARK: Sweeps

    /// Runs `body` every `interval` until cancelled; a failing round is logged and the next
    /// one runs as usual, so one sweep never stops another.
    func sweepLoop(every interval: Duration, _ body: () async throws -> Void) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            do { try await body() } catch {
                logger.warning("sweep failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Fires every passed deadline this worker can claim. Claims are leases in the store, so
    /// among many workers exactly one fires each deadline; a thread whose firing fails is
    /// retried after a backoff and parked after ``Configuration/deadlineAttempts`` tries,
    /// without holding up the other threads. Claimed deadlines are fired only while the
    /// lease has at least half its time left: on a machine too slow to fire a whole claim
    /// within it, the rest is left for a later claim instead of being fired while another
    /// worker may already hold it.
    /// - Returns: How many threads were fired.
    @discardableResult
    public func fireDeadlines(relay: OutboxRelay?, now: Date = Date()) async throws -> Int {
        let claimed = ContinuousClock.now
        let due = try await store.claimDueInterrupts(at: now, leaseUntil: now.addingTimeInterval(configuration.deadlineLease.timeInterval), limit: 100)
        var fired = 0
        var seen = Set<String>()
        for interrupt in due where seen.insert(interrupt.threadID).inserted {
            guard ContinuousClock.now - claimed < configuration.deadlineLease / 2 else {
                logger.warning("leaving claimed deadlines to a later sweep: the lease is half over", metadata: ["interlude.count": "\(due.count - fired)"])
                break
            }
            do {
                guard let rows = try await processor.fireDeadlines(thread: interrupt.threadID, now: now) else { continue }
                counters.withLock { $0.expired += 1 }
                fired += 1
                relay?.enqueue(rows)
            } catch {
                await deferDeadline(interrupt, now: now, error: error, relay: relay)
            }
        }
        return fired
    }

    private func deferDeadline(_ interrupt: InterruptRecord, now: Date, error: any Error, relay: OutboxRelay?) async {
        do {
            let attempts = try await store.deferInterrupt(thread: interrupt.threadID, id: interrupt.id, after: now)
            logger.warning("firing a deadline failed", metadata: ["interlude.thread_id": "\(interrupt.threadID)", "interlude.attempt": "\(attempts)", "error": "\(error)"])
            guard attempts >= configuration.deadlineAttempts else { return }
            let rows = try await processor.parkForDeadline(thread: interrupt.threadID, reason: "the deadline of interrupt \(interrupt.id) could not be applied after \(attempts) attempts: \(error)")
            relay?.enqueue(rows)
        } catch {
            logger.error("deferring a failed deadline failed", metadata: ["interlude.thread_id": "\(interrupt.threadID)", "error": "\(error)"])
        }
    }

    /// Continues (or parks) commands left part-way with no progress for
    /// ``Configuration/stallTimeout``: a worker that died where no redelivery follows, a
    /// thread left `ready` by a dead-lettered command.
    /// - Returns: How many commands were recovered.
    @discardableResult
    public func recoverStalled(relay: OutboxRelay?) async throws -> Int {
        let stalled = try await store.claimStalledCommands(stalledFor: configuration.stallTimeout, leaseFor: configuration.stallTimeout, limit: 50)
        var recovered = 0
        for record in stalled {
            do {
                let processed = try await processor.recoverStalled(record, maxAttempts: configuration.stallAttempts)
                counters.withLock { $0.recovered += 1 }
                recovered += 1
                relay?.enqueue(processed.outbox)
            } catch {
                logger.warning("recovering a stalled command failed; the next sweep tries again", metadata: ["interlude.thread_id": "\(record.threadID)", "interlude.command_id": "\(record.commandID)", "error": "\(error)"])
            }
        }
        return recovered
    }
}
