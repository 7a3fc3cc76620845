import Foundation
import Interlude
import InterludeKafka
import Logging
import Prometheus
import ServiceLifecycle
import InterludeTestSupport
import Testing
@testable import InterludeWorker

@Suite("Commands deleted before a worker read them", .tags(.worker), .timeLimit(.minutes(3)))
struct RetentionGapTests {
    @Test("commands the broker deleted unread are counted in interlude_kafka_messages_skipped_total (exactly the gap), and the commands after them still run")
    func countsTheGap() async throws {
        let fixture = try ApprovalWorkerFixture(partitions: 1)
        let (logger, cluster, topics) = (fixture.logger, fixture.cluster, fixture.topics)
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        let client = CommandClient(producer: producer, topics: topics)
        let reviews = try EventCollector(bootstrap: cluster.bootstrapServers, topics: [topics.reviews])
        func run(_ thread: String) -> CommandMessage {
            CommandMessage(id: "run-\(thread)", threadID: thread, body: .run(graph: "approval", input: ["draft": .string(thread)], config: nil, ifBusy: .reject))
        }
        func asked(_ thread: String) -> @Sendable ([JSONValue]) -> Bool {
            { list in list.contains { $0["thread_id"]?.stringValue == thread } }
        }

        // A first worker runs one command and commits its offset (1), then stops.
        let first = fixture.worker()
        let firstGroup = ServiceGroup(configuration: .init(services: [first], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await firstGroup.run() }
            try await client.send(run("before"))
            try await reviews.collect(until: asked("before"))
            await firstGroup.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }

        // While no worker runs, 6 MB of commands arrive; the embedded cluster keeps 5 MB per
        // partition, so it deletes the oldest unread ones. Then one more run.
        let filler = Array(String(repeating: "x", count: 100_000).utf8)
        _ = try await producer.send((0..<60).map { KafkaProducerRecord(topic: topics.runs, key: Array("filler-\($0)".utf8), value: filler) }).map { try $0.get() }
        try await client.send(run("after"))
        let reader = try KafkaPartitionReader(configuration: .init(bootstrapServers: cluster.bootstrapServers, groupID: fixture.configuration.groupID), logger: logger)
        let low = try #require(await reader.watermarks([TopicPartition(topic: topics.runs, partition: 0)]).values.first).low
        #expect(low > 1, "the cluster kept offset 1: the test deleted nothing")

        let prometheus = PrometheusCollectorRegistry()
        let second = fixture.worker(metrics: WorkerMetrics(factory: WorkerDeployment.metricsFactory(prometheus)))
        let secondGroup = ServiceGroup(configuration: .init(services: [second], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await secondGroup.run() }
            try await reviews.collect(until: asked("after"))
            await secondGroup.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        var text: [UInt8] = []
        prometheus.emit(into: &text)
        let line = String(decoding: text, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix(WorkerMetrics.Name.messagesSkipped + "{") }
        #expect(line == "\(WorkerMetrics.Name.messagesSkipped){topic=\"\(topics.runs)\"} \(low - 1)", "the series: \(line ?? "missing")")
        await producer.close()
        await reviews.consumer.close()
    }
}
