import Foundation
import Interlude
import InterludeExamples
import InterludeKafka
import InterludeTestSupport
import InterludeWorker
import Logging
import ServiceLifecycle
import Testing

/// The subgraph example through a worker over the mock cluster: the question asked inside
/// the subgraph reaches the reviews topic for the parent thread, and a resume naming its id
/// completes the run.
@Suite("Subgraph over Kafka", .tags(.worker), .timeLimit(.minutes(3)))
struct SubgraphKafkaTests {
    @Test("a worker drives subgraph-review threads through the subgraph's question and its resume over the mock cluster")
    func subgraphReview() async throws {
        let logger = Logger(label: "test")
        let cluster = try KafkaDevCluster(brokers: 1, logger: logger)
        let topics = TopicNames(prefix: "s\(UInt32.random(in: 0...UInt32.max)).")
        try cluster.createTopics(topics.all.map { KafkaTopicSpec(name: $0, partitions: 2) })
        let checkpointer = InMemoryCheckpointer()
        var registry = GraphRegistry()
        try registry.register(try SubgraphReviewExample.makeGraph(checkpointer: checkpointer))
        var configuration = Worker.Configuration()
        configuration.bootstrapServers = cluster.bootstrapServers
        configuration.groupID = "workers-\(UUID().uuidString)"
        configuration.topics = topics
        let worker = Worker(configuration: configuration, registry: registry, store: checkpointer, logger: logger)
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        let client = CommandClient(producer: producer, topics: topics)
        let reviews = try EventCollector(bootstrap: cluster.bootstrapServers, topics: [topics.reviews])
        let events = try EventCollector(bootstrap: cluster.bootstrapServers, topics: [topics.events])
        let threads = (0..<4).map { "article-\($0)" }

        let group = ServiceGroup(configuration: .init(services: [worker], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await client.send(threads.map {
                CommandMessage(id: "run-\($0)", threadID: $0, body: .run(graph: SubgraphReviewExample.name, input: ["topic": .string($0)], config: nil, ifBusy: .reject))
            })
            try await reviews.collect(until: { $0.count >= threads.count })
            for review in reviews.all {
                let thread = try #require(review["thread_id"]?.stringValue)
                let id = try #require(review["interrupt_id"]?.stringValue)
                #expect(review["value"]?["draft"]?.stringValue == "A short piece on \(thread).")
                #expect(review["namespace"]?.stringValue?.hasPrefix("review:") == true, "the event names the subgraph that asks")
                try await client.send(CommandMessage(id: "resume-\(thread)", threadID: thread, body: .resume(value: nil, values: [id: ["approved": true]], checkpointID: nil)))
            }
            try await events.collect(until: { list in Set(list.filter { $0["type"] == "completed" }.compactMap { $0["thread_id"]?.stringValue }).count >= threads.count })
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let completed = events.all.filter { $0["type"] == "completed" }
        #expect(Set(completed.compactMap { $0["thread_id"]?.stringValue }) == Set(threads))
        #expect(completed.allSatisfy { $0["values"]?["published"] == true })
        #expect(Set(reviews.all.compactMap { $0["thread_id"]?.stringValue }) == Set(threads), "reviews are published for the parent threads only")
        await producer.close()
        await reviews.consumer.close()
        await events.consumer.close()
    }
}
