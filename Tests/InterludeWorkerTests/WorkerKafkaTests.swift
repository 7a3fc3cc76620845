import Foundation
import Interlude
import InterludeKafka
import InterludeWorker
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// Reads a topic from the beginning with its own group, collecting JSON events.
final class EventCollector: Sendable {
    let consumer: KafkaConsumer
    private let events = Mutex<[JSONValue]>([])

    init(bootstrap: String, topics: [String]) throws {
        var config = KafkaConsumer.Configuration(bootstrapServers: bootstrap, groupID: "collector-\(UUID().uuidString)")
        config.offsetReset = .earliest
        consumer = try KafkaConsumer(topics: topics, configuration: config, logger: Logger(label: "collector"))
    }

    var all: [JSONValue] { events.withLock { $0 } }

    /// Reads until `done` holds for what was collected, or fails after `seconds`.
    func collect(until done: @escaping @Sendable ([JSONValue]) -> Bool, seconds: Double = 60) async throws {
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

struct CollectTimeout: Error, CustomStringConvertible {
    var collected: Int
    var description: String { "the expected events did not arrive in time (collected \(collected))" }
}

@Suite("Worker over Kafka", .tags(.worker), .timeLimit(.minutes(3)))
struct WorkerKafkaTests {
    @Test("a worker drives approval threads through interrupt and resume over the mock cluster")
    func approvals() async throws {
        let logger = Logger(label: "test")
        let cluster = try KafkaDevCluster(brokers: 1, logger: logger)
        let topics = TopicNames(prefix: "t\(UInt32.random(in: 0...UInt32.max)).")
        try cluster.createTopics(topics.all.map { KafkaTopicSpec(name: $0, partitions: 4) })
        let checkpointer = InMemoryCheckpointer()
        var registry = GraphRegistry()
        registry.register(try makeApprovalGraph(checkpointer: checkpointer))
        var configuration = Worker.Configuration()
        configuration.bootstrapServers = cluster.bootstrapServers
        configuration.groupID = "workers-\(UUID().uuidString)"
        configuration.topics = topics
        let worker = Worker(configuration: configuration, registry: registry, checkpointer: checkpointer, logger: logger)
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        let client = CommandClient(producer: producer, topics: topics)
        let reviews = try EventCollector(bootstrap: cluster.bootstrapServers, topics: [topics.reviews])
        let events = try EventCollector(bootstrap: cluster.bootstrapServers, topics: [topics.events])
        let threads = (0..<20).map { "thread-\($0)" }

        let group = ServiceGroup(configuration: .init(services: [worker], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await client.send(threads.map {
                CommandMessage(id: "run-\($0)", threadID: $0, body: .run(graph: "approval", input: ["draft": .string($0)], config: nil, ifBusy: .reject))
            })
            try await reviews.collect(until: { $0.count >= threads.count })
            for review in reviews.all {
                let thread = try #require(review["thread_id"]?.stringValue)
                let id = try #require(review["interrupt_id"]?.stringValue)
                try await client.send(CommandMessage(id: "resume-\(thread)", threadID: thread, body: .resume(value: nil, values: [id: true], checkpointID: nil)))
            }
            try await events.collect(until: { list in Set(list.filter { $0["type"] == "completed" }.compactMap { $0["thread_id"]?.stringValue }).count >= threads.count })
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let completed = events.all.filter { $0["type"] == "completed" }
        #expect(Set(completed.compactMap { $0["thread_id"]?.stringValue }) == Set(threads))
        #expect(completed.allSatisfy { $0["values"]?["sent"] == true })
        #expect(worker.stats.processed == threads.count * 2)
        await producer.close()
        await reviews.consumer.close()
        await events.consumer.close()
    }
}
