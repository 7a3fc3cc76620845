import Foundation
import Interlude
import InterludeKafka
import Logging
import InterludeTestSupport
@testable import InterludeWorker

/// What the in-process worker tests over Kafka share: a mock cluster with the worker's topics
/// (a fresh prefix), an in-memory checkpointer hosting the approval graph, and a worker
/// configuration pointing at them in a consumer group of its own.
struct ApprovalWorkerFixture {
    let logger = Logger(label: "test")
    let cluster: KafkaDevCluster
    let topics = TopicNames(prefix: "t\(UInt32.random(in: 0...UInt32.max)).")
    let checkpointer = InMemoryCheckpointer()
    let registry: GraphRegistry
    var configuration = Worker.Configuration()

    /// - Parameter partitions: Partitions of every topic.
    init(partitions: Int32) throws {
        cluster = try KafkaDevCluster(brokers: 1, logger: logger)
        try cluster.createTopics(topics.all.map { KafkaTopicSpec(name: $0, partitions: partitions) })
        var registry = GraphRegistry()
        try registry.register(try makeApprovalGraph(checkpointer: checkpointer))
        self.registry = registry
        configuration.bootstrapServers = cluster.bootstrapServers
        configuration.groupID = "workers-\(UUID().uuidString)"
        configuration.topics = topics
    }

    /// A worker of the fixture's configuration.
    func worker(metrics: WorkerMetrics = WorkerMetrics()) -> Worker {
        Worker(configuration: configuration, registry: registry, store: checkpointer, logger: logger, metrics: metrics)
    }
}
