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
        let records = commands.map { command in
            KafkaProducerRecord(
                topic: command.type == "resume" ? topics.resumes : topics.runs, key: Array(command.threadID.utf8),
                value: Array(command.json.jsonData))
        }
        for result in await producer.send(records) { _ = try result.get() }
    }
}
