import Foundation
import Interlude
import InterludeKafka
import Logging
import Synchronization

/// Reads a topic from the beginning with its own group, collecting JSON events.
public final class EventCollector: Sendable {
    /// The consumer; close it when done.
    public let consumer: KafkaConsumer
    private let events = Mutex<[JSONValue]>([])

    /// Starts a consumer of `topics` with a group of its own, from the earliest offset.
    public init(bootstrap: String, topics: [String]) throws {
        var config = KafkaConsumer.Configuration(bootstrapServers: bootstrap, groupID: "collector-\(UUID().uuidString)")
        config.offsetReset = .earliest
        config.sessionTimeout = .seconds(6)
        config.librdkafkaProperties["fetch.wait.max.ms"] = "10"
        consumer = try KafkaConsumer(topics: topics, configuration: config, logger: Logger(label: "collector"))
    }

    /// Everything collected so far.
    public var all: [JSONValue] { events.withLock { $0 } }

    /// Reads until `done` holds for what was collected, or fails after `seconds`.
    public func collect(until done: @escaping @Sendable ([JSONValue]) -> Bool, seconds: Double = 60) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await event in self.consumer.events {
                    guard case .message(let message) = event, let json = try? JSONValue(json: Data(message.value)) else { continue }
                    let finished = self.events.withLock { list -> Bool in
                        list.append(json)
                        return done(list)
                    }
                    if finished { return }
                }
            }
            group.addTask {
                try await Task.sleep(until: deadline)
                throw CollectTimeout(collected: self.all.count)
            }
            try await group.next()
            group.cancelAll()
        }
    }
}

public struct CollectTimeout: Error, CustomStringConvertible {
    public var collected: Int
    public var description: String { "the expected events did not arrive in time (collected \(collected))" }
}

