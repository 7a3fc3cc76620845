import Foundation
import Interlude
import InterludeKafka
import InterludeWorker
import Logging
import Synchronization

/// Drives approval runs through a deployment unattended: sends `run` commands, answers every
/// review with an approval, and waits until each thread completed. Used by
/// `interlude dev --auto-approve N` and the end-to-end benchmark.
struct LoadDriver {
    let environment: DeploymentEnvironment
    let logger: Logger

    /// What a load run measured.
    struct Report {
        var runs: Int
        var seconds: Double
        var resumeToCompleted: [Double]
        var rejected: Int
        var failed: Int

        var runsPerSecond: Double { Double(runs) / seconds }

        func percentile(_ p: Double) -> Double {
            guard !resumeToCompleted.isEmpty else { return .nan }
            let sorted = resumeToCompleted.sorted()
            return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
        }

        var line: String {
            String(
                format: "auto-approve: %d runs completed in %.2f s (%.0f runs/s); resume -> completed p50 %.1f ms, p99 %.1f ms; rejected %d, failed %d",
                runs, seconds, runsPerSecond, percentile(0.5) * 1000, percentile(0.99) * 1000, rejected, failed)
        }
    }

    /// Runs `count` approval threads to completion, or fails after `timeout`.
    func run(count: Int, timeout: Duration = .seconds(600), threadPrefix: String = "auto") async throws -> Report {
        let producer = try KafkaProducer(configuration: environment.producerConfiguration(), logger: logger)
        let client = CommandClient(producer: producer, topics: environment.topics)
        var consumerConfig = environment.consumerConfiguration(groupID: "interlude.driver.\(UUID().uuidString.lowercased())")
        consumerConfig.offsetReset = .latest
        let consumer = try KafkaConsumer(topics: [environment.topics.reviews, environment.topics.events], configuration: consumerConfig, logger: logger)
        let batch = UUID().uuidString.prefix(8).lowercased()
        let threads = (0..<count).map { "\(threadPrefix)-\(batch)-\($0)" }
        let queue = CommandQueue()
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        var resumeSent: [String: ContinuousClock.Instant] = [:]

        // Wait until the driver's consumer has partitions, so no event is missed.
        var events = consumer.events.makeAsyncIterator()
        while let event = try await events.next() {
            if case .partitionsAssigned = event { break }
        }
        let start = ContinuousClock.now
        var report = Report(runs: 0, seconds: 0, resumeToCompleted: [], rejected: 0, failed: 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Sends queued resumes in batches: one delivery wait per batch, not per message.
                for await _ in wakeups {
                    try await client.send(queue.takeAll())
                }
            }
            group.addTask {
                try await client.send(threads.map { thread in
                    CommandMessage(id: "run-\(thread)", threadID: thread, body: .run(graph: "approval", input: ["recipient": .string("\(thread)@example.com"), "subject": "the load test"], config: nil, ifBusy: .reject))
                })
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw DemoError("the load run of \(count) threads did not finish within \(timeout)")
            }
            var completed = Set<String>()
            while completed.count < count, let event = try await events.next() {
                guard case .message(let message) = event, let json = try? JSONValue(json: Data(message.value)),
                    let thread = json["thread_id"]?.stringValue
                else { continue }
                switch json["type"]?.stringValue {
                case "interrupt":
                    guard let id = json["interrupt_id"]?.stringValue else { continue }
                    resumeSent[thread] = .now
                    let resume = CommandMessage(id: "approve-\(id)", threadID: thread, body: .resume(value: nil, values: [id: ["approved": true]], checkpointID: nil))
                    queue.append(resume)
                    wake.yield()
                case "completed":
                    if completed.insert(thread).inserted, let sent = resumeSent[thread] {
                        let elapsed = ContinuousClock.now - sent
                        report.resumeToCompleted.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                    }
                    report.runs = completed.count
                case "rejected": report.rejected += 1
                case "failed": report.failed += 1
                default: break
                }
            }
            wake.finish()
            group.cancelAll()
        }
        let elapsed = ContinuousClock.now - start
        report.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        await consumer.close()
        await producer.close()
        return report
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
