import Testing

@testable import InterludeKafka

@Suite("KafkaDevCluster", .tags(.kafka))
struct KafkaDevClusterTests {
    @Test("A cluster of three brokers prints three loopback bootstrap addresses")
    func bootstrapServers() throws {
        let cluster = try TestCluster(brokers: 3)
        let addresses = cluster.cluster.bootstrapServers.split(separator: ",")
        #expect(addresses.count == 3, "got \(cluster.cluster.bootstrapServers)")
        #expect(cluster.cluster.brokerIDs == 1...3)
    }

    @Test("Creating the same topics twice is not an error", .timeLimit(.minutes(1)))
    func createTopicsIsIdempotent() async throws {
        let topic = uniqueName("twice")
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: 5)])
        try cluster.cluster.createTopics([KafkaTopicSpec(name: topic, partitions: 5)])
        let admin = try KafkaAdmin(
            configuration: .init(bootstrapServers: cluster.cluster.bootstrapServers), logger: cluster.logger)
        let listed = try await admin.listTopics()
        #expect(listed.contains(KafkaTopicMetadata(name: topic, partitionCount: 5)), "listed: \(listed)")
    }

    @Test("An idempotent producer survives a broker outage with no loss and no duplicates",
          .timeLimit(.minutes(2)))
    func producerSurvivesBrokerOutage() async throws {
        let topic = uniqueName("outage")
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: 1)])
        let capture = LogCapture()
        let producer = try cluster.producer(logger: capture.logger())
        let before = try await producer.send(records(topic, 0..<50)).map { try $0.get() }

        try cluster.cluster.setBrokerDown(1)
        let during = Task { await producer.send(records(topic, 50..<100)) }
        // Hold the outage until the producer has observed it (a refused reconnect).
        let observed = try await capture.waitForLine(containingAnyOf: ["Connection refused", "Disconnected"])
        #expect(!observed.isEmpty)
        try cluster.cluster.setBrokerUp(1)
        let after = try await during.value.map { try $0.get() }

        try await expectExactlyOnce(topic: topic, reports: before + after, count: 100, cluster: cluster, producer: producer)
    }

    @Test("An idempotent producer survives injected produce errors and slow responses with no loss and no duplicates",
          .timeLimit(.minutes(2)))
    func producerSurvivesRequestErrors() async throws {
        let topic = uniqueName("errors")
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: 1)])
        let producer = try cluster.producer()
        _ = try await producer.send(records(topic, 0..<1)).map { try $0.get() }  // producer id acquired
        try cluster.cluster.setRoundTripTime(.milliseconds(50))
        cluster.cluster.injectRequestErrors(
            [.notLeaderForPartition, .requestTimedOut, .notEnoughReplicas, .leaderNotAvailable, .disconnect,
             .notEnoughReplicas],
            for: .produce)
        var reports = try await producer.send(records(topic, 1..<60)).map { try $0.get() }
        try cluster.cluster.setRoundTripTime(.zero)
        reports += try await producer.send(records(topic, 60..<100)).map { try $0.get() }
        reports.insert(DeliveryReport(topic: topic, partition: 0, offset: 0), at: 0)

        try await expectExactlyOnce(topic: topic, reports: reports, count: 100, cluster: cluster, producer: producer)
    }

    private func records(_ topic: String, _ range: Range<Int>) -> [KafkaProducerRecord] {
        range.map { KafkaProducerRecord(topic: topic, key: bytes("thread-1"), value: bytes("m\($0)")) }
    }

    /// Checks the single-partition log holds each value exactly once, in order: delivery
    /// reports cover offsets 0..<count with no gap (a duplicate would leave one), and a
    /// sentinel produced afterwards is read right after the `count` messages.
    private func expectExactlyOnce(
        topic: String, reports: [DeliveryReport], count: Int, cluster: TestCluster, producer: KafkaProducer
    ) async throws {
        #expect(reports.map(\.offset) == (0..<Int64(count)).map { $0 }, "reported offsets have gaps or repeats")
        let sentinel = try await producer.send(topic: topic, key: nil, value: bytes("sentinel"))
        #expect(sentinel.offset == Int64(count), "the log holds extra messages before the sentinel")
        let consumer = try cluster.consumer(topics: [topic], group: uniqueName("verify"))
        let read = try await readMessages(count + 1, from: consumer)
        #expect(read.map { text($0.value) } == (0..<count).map { "m\($0)" } + ["sentinel"])
        await consumer.close()
        await producer.close()
    }
}
