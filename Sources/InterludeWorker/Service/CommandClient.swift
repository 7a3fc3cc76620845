import Foundation
import Interlude
import InterludeKafka
import Logging

/// Sends commands to a deployment: what app backends and review apps do, in Swift.
public struct CommandClient: Sendable {
    let producer: KafkaProducer
    /// The topics.
    public let topics: TopicNames

    /// Creates a client over a producer.
    public init(producer: KafkaProducer, topics: TopicNames = TopicNames()) {
        self.producer = producer
        self.topics = topics
    }

    /// Looks up the command topics' partition leaders now, so the first command sent is not
    /// delayed by the lookup (see ``KafkaProducer/warm(topics:timeout:)``).
    public func warm() async throws {
        try await producer.warm(topics: [topics.runs, topics.resumes])
    }

    /// Sends a command to its topic (`resume` to resumes, the rest to runs), keyed by thread.
    @discardableResult
    public func send(_ command: CommandMessage) async throws -> DeliveryReport {
        let topic = command.type == "resume" ? topics.resumes : topics.runs
        return try await producer.send(topic: topic, key: Array(command.threadID.utf8), value: Array(command.json.jsonData))
    }

    /// Sends several commands, in order per thread.
    public func send(_ commands: [CommandMessage]) async throws {
        for result in await producer.send(records(commands)) { _ = try result.get() }
    }

    /// Hands commands to the producer in order and returns at once, without waiting for the
    /// broker; `completion` gets one outcome per command, in order, once every one was
    /// acknowledged or failed. It runs on the producer's polling thread: keep it short.
    ///
    /// This is how a caller keeps its own pace (a paced load): commands enqueued later with
    /// the same thread id still come after these.
    public func enqueue(_ commands: [CommandMessage], completion: @escaping @Sendable ([Result<DeliveryReport, KafkaError>]) -> Void) {
        producer.enqueue(records(commands), completion: completion)
    }

    /// The records of commands: `resume` to resumes, the rest to runs, keyed by thread.
    private func records(_ commands: [CommandMessage]) -> [KafkaProducerRecord] {
        commands.map { command in
            KafkaProducerRecord(
                topic: command.type == "resume" ? topics.resumes : topics.runs, key: Array(command.threadID.utf8),
                value: Array(command.json.jsonData))
        }
    }
}
