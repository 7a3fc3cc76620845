import Foundation
import Interlude
import InterludeKafka
import Logging
import Synchronization

/// Drives runs through a deployment unattended, as a client would: sends `run` commands,
/// answers every review of its own threads, and waits until each thread completed. It reads
/// the review and event topics from their start, in a consumer group of its own. Used by
/// `interlude dev --auto-approve N`, the end-to-end tests and the end-to-end benchmark.
public struct LoadDriver: Sendable {
    let producerConfiguration: KafkaProducer.Configuration
    let consumerConfiguration: KafkaConsumer.Configuration
    let topics: TopicNames
    let logger: Logger

    /// Creates a driver; its consumer joins a group of its own (`groupID` is replaced).
    public init(producer: KafkaProducer.Configuration, consumer: KafkaConsumer.Configuration, topics: TopicNames, logger: Logger) {
        self.producerConfiguration = producer
        self.consumerConfiguration = consumer
        self.topics = topics
        self.logger = logger
    }

    /// What a load run measured.
    public struct Report: Sendable {
        /// Threads that completed.
        public var runs: Int
        /// Wall-clock seconds from the first command sent to the last completion seen.
        public var seconds: Double
        /// Seconds from each resume sent to its thread's `completed` event.
        public var resumeToCompleted: [Double]
        /// `rejected` events seen.
        public var rejected: Int
        /// `failed` events seen.
        public var failed: Int
        /// Every event seen, in order.
        public var events: [JSONValue]

        /// Completed runs per second.
        public var runsPerSecond: Double { Double(runs) / seconds }

        /// A latency percentile in seconds (`p` in 0...1).
        public func percentile(_ p: Double) -> Double {
            guard !resumeToCompleted.isEmpty else { return .nan }
            let sorted = resumeToCompleted.sorted()
            return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
        }

        /// A one-line summary.
        public var line: String {
            String(
                format: "auto-approve: %d runs completed in %.2f s (%.0f runs/s); resume -> completed p50 %.1f ms, p99 %.1f ms; rejected %d, failed %d",
                runs, seconds, runsPerSecond, percentile(0.5) * 1000, percentile(0.99) * 1000, rejected, failed)
        }
    }

    /// Runs `count` threads of `graph` to completion, answering each review with `answer`, or
    /// fails after `timeout`.
    /// - Parameters:
    ///   - input: The run input for a thread id.
    ///   - answer: The resume value for a review event.
    ///   - rate: Runs started per second; `nil` starts them all at once (throughput). A low rate
    ///     measures latency at low load. Runs are handed to the producer at this pace whether or
    ///     not the broker acknowledges them meanwhile (a broker outage does not slow the
    ///     sending); a delivery that failed ends the load with its error.
    ///   - whileRunning: Runs alongside the load from the moment its clock starts, while the
    ///     runs are being sent, with the thread ids (to inject faults); cancelled once every run
    ///     completed. A fault meant to land mid-load needs a load that lasts (a `rate`) and a
    ///     caller that checks it was injected: a load that completes first cancels it unsent.
    ///     An error it throws ends the load at once with that error (so does a failure to
    ///     send a run or a resume).
    ///   - progress: Counts runs sent and completed as they happen (for a progress display).
    public func run(
        count: Int, graph: String = "approval", timeout: Duration = .seconds(600), threadPrefix: String = "auto", rate: Double? = nil,
        input: @escaping @Sendable (String) -> [String: JSONValue] = { ["recipient": .string("\($0)@example.com"), "subject": "the load test"] },
        answer: @escaping @Sendable (JSONValue) -> JSONValue = { _ in ["approved": true] },
        whileRunning: (@Sendable ([String]) async throws -> Void)? = nil,
        progress: LoadProgress? = nil
    ) async throws -> Report {
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        let client = CommandClient(producer: producer, topics: topics)
        var consumerConfig = consumerConfiguration
        consumerConfig.groupID = "interlude.driver.\(UUID().uuidString.lowercased())"
        // From the start of the topics, keeping only this load's threads: a consumer that starts
        // at "latest" takes its position only once the broker answers its offset query, and
        // an event published before that answer (a worker that is already running answers
        // the first run within milliseconds) is skipped for good, stalling its run. The same
        // holds when the coordinator forgets the group (a broker outage past the session
        // timeout) and the consumer rejoins with no committed offset.
        consumerConfig.offsetReset = .earliest
        let consumer = try KafkaConsumer(topics: [topics.reviews, topics.events], configuration: consumerConfig, logger: logger)
        let batch = UUID().uuidString.prefix(8).lowercased()
        let threads = (0..<count).map { "\(threadPrefix)-\(batch)-\($0)" }
        let mine = Set(threads)
        let queue = CommandQueue()
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let deadline = ContinuousClock.now + timeout
        let timedOut = LoadTimeout(count: count, timeout: timeout)

        var start = ContinuousClock.now
        var report: Report
        do {
            // Wait until the driver's consumer joined its group and the producer knows the command
            // topics' leaders, so the clock does not count those waits.
            try await Self.within(deadline, or: timedOut) {
                var events = consumer.events.makeAsyncIterator()
                while let event = try await events.next() {
                    if case .partitionsAssigned = event { return }
                }
            }
            try await client.warm()
            start = ContinuousClock.now
            // The events loop runs under the deadline: when it passes, the loop is cancelled even
            // while it waits for an event that never comes.
            report = try await Self.within(deadline, or: timedOut) {
                // Every task of the load is a child whose error ends the load at once: a failing
                // fault script or resume sender is reported, not dropped while the load waits
                // for runs that can no longer complete. The events loop's child returns the
                // report; the others return nil.
                try await withThrowingTaskGroup(of: Report?.self) { group in
                    group.addTask {
                        // Sends queued resumes in batches: one delivery wait per batch, not per message.
                        for await _ in wakeups {
                            try await client.send(queue.takeAll())
                        }
                        return nil
                    }
                    group.addTask {
                        let commands = threads.map { thread in
                            CommandMessage(id: "run-\(thread)", threadID: thread, body: .run(graph: graph, input: input(thread), config: nil, ifBusy: .reject))
                        }
                        if let rate, rate > 0 {
                            // Enqueued at the pace, not sent one acknowledgement at a time: waiting
                            // for each delivery report (12 ms apiece at p50 in `interlude dev` with
                            // `linger.ms` 1) held any rate above about 90 per second down to that.
                            let clock = ContinuousClock()
                            let interval = Duration.seconds(1 / rate)
                            let deliveries = PendingDeliveries()
                            var next = clock.now
                            for command in commands {
                                try deliveries.checkFailure()
                                deliveries.add(1)
                                client.enqueue([command]) { deliveries.finished($0) }
                                progress?.sent(1)
                                next += interval
                                try await clock.sleep(until: next)
                            }
                            try await deliveries.waitForAll()
                        } else {
                            try await client.send(commands)
                            progress?.sent(commands.count)
                        }
                        return nil
                    }
                    if let whileRunning {
                        group.addTask {
                            try await whileRunning(threads)
                            return nil
                        }
                    }
                    group.addTask {
                        var report = Report(runs: 0, seconds: 0, resumeToCompleted: [], rejected: 0, failed: 0, events: [])
                        var resumeSent: [String: ContinuousClock.Instant] = [:]
                        var completed = Set<String>()
                        var events = consumer.events.makeAsyncIterator()
                        while completed.count < count, let event = try await events.next() {
                            guard case .message(let message) = event else { continue }
                            // Committed offsets let the driver continue where it was if the group
                            // coordinator drops it (a broker outage): starting over at "latest" would
                            // skip the events sent meanwhile.
                            try? consumer.storeOffset(of: message)
                            guard let json = try? JSONValue(json: Data(message.value)), let thread = json["thread_id"]?.stringValue, mine.contains(thread) else { continue }
                            report.events.append(json)
                            switch json["type"]?.stringValue {
                            case "interrupt":
                                guard let id = json["interrupt_id"]?.stringValue else { continue }
                                resumeSent[thread] = .now
                                let resume = CommandMessage(id: "answer-\(id)", threadID: thread, body: .resume(value: nil, values: [id: answer(json)], checkpointID: nil))
                                queue.append(resume)
                                wake.yield()
                            case "completed":
                                if completed.insert(thread).inserted, let sent = resumeSent[thread] {
                                    let elapsed = ContinuousClock.now - sent
                                    report.resumeToCompleted.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                                }
                                report.runs = completed.count
                                progress?.completed(count: completed.count)
                            case "rejected": report.rejected += 1
                            case "failed": report.failed += 1
                            default: break
                            }
                        }
                        return report
                    }
                    while let finished = try await group.next() {
                        guard let report = finished else { continue }
                        wake.finish()
                        group.cancelAll()
                        return report
                    }
                    throw CancellationError()  // every child ended without the events loop's report: only on cancellation
                }
            }
        } catch {
            // A timeout or a failure: leave the group and stop the producer all the same.
            await consumer.close()
            await producer.close()
            throw error
        }
        let elapsed = ContinuousClock.now - start
        report.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        await consumer.close()
        await producer.close()
        return report
    }

    /// Runs `body`, or throws `timeout` once `deadline` passed, cancelling `body` (a body
    /// waiting for consumer events ends on cancellation).
    private static func within<T: Sendable>(
        _ deadline: ContinuousClock.Instant, or timeout: LoadTimeout, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                throw timeout
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}

/// The load run did not finish in time.
public struct LoadTimeout: Error, CustomStringConvertible {
    /// Threads started.
    public var count: Int
    /// The time allowed.
    public var timeout: Duration
    public var description: String { "the load run of \(count) threads did not finish within \(timeout)" }
}

/// Runs sent and completed so far by a ``LoadDriver``, readable from any task while it runs.
public final class LoadProgress: Sendable {
    private let sentCount = Atomic(0)
    private let completedCount = Atomic(0)

    /// Creates counters at zero.
    public init() {}

    /// Runs sent so far.
    public var started: Int { sentCount.load(ordering: .relaxed) }
    /// Runs completed so far.
    public var completed: Int { completedCount.load(ordering: .relaxed) }

    func sent(_ count: Int) { sentCount.add(count, ordering: .relaxed) }
    func completed(count: Int) { completedCount.store(count, ordering: .relaxed) }
}

/// The deliveries of commands enqueued without waiting: how many are still unacknowledged, and
/// the first failure.
final class PendingDeliveries: Sendable {
    private struct State {
        var pending = 0
        var failure: KafkaError?
        var waiter: CheckedContinuation<Void, any Error>?
    }
    private let state = Mutex(State())

    /// Counts `count` more commands handed to the producer.
    func add(_ count: Int) { state.withLock { $0.pending += count } }

    /// Records the outcomes of commands handed over earlier (on the producer's polling thread).
    func finished(_ outcomes: [Result<DeliveryReport, KafkaError>]) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            state.pending -= outcomes.count
            for case .failure(let error) in outcomes where state.failure == nil { state.failure = error }
            guard state.pending == 0 || state.failure != nil, let waiter = state.waiter else { return nil }
            state.waiter = nil
            return waiter
        }
        waiter?.resume(with: state.withLock { $0.failure }.map { .failure($0) } ?? .success(()))
    }

    /// Throws the first delivery failure so far, if any.
    func checkFailure() throws {
        if let failure = state.withLock({ $0.failure }) { throw failure }
    }

    /// Waits until every command handed over was acknowledged; throws the first failure, or
    /// `CancellationError` when the task is cancelled (a load past its deadline).
    func waitForAll() async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ready: Result<Void, any Error>? = state.withLock { state in
                    if let failure = state.failure { return .failure(failure) }
                    if state.pending == 0 { return .success(()) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }
}

/// Commands waiting to be sent in the next batch.
final class CommandQueue: Sendable {
    private let queued = Mutex<[CommandMessage]>([])

    func append(_ command: CommandMessage) { queued.withLock { $0.append(command) } }

    func takeAll() -> [CommandMessage] {
        queued.withLock { all in
            defer { all = [] }
            return all
        }
    }
}
