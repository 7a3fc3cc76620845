import Foundation
import Interlude
import InterludeKafka
import InterludeWorker
import Logging
import ServiceLifecycle
import Synchronization
import InterludeTestSupport
import Testing

@Suite("Worker over Kafka", .tags(.worker), .timeLimit(.minutes(3)))
struct WorkerKafkaTests {
    @Test("a worker drives approval threads through interrupt and resume over the mock cluster")
    func approvals() async throws {
        let fixture = try ApprovalWorkerFixture(partitions: 4)
        let (logger, cluster, topics) = (fixture.logger, fixture.cluster, fixture.topics)
        let worker = fixture.worker()
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
