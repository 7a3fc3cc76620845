import Testing

@testable import InterludeKafka

@Suite("KafkaProducer", .tags(.kafka))
struct KafkaProducerTests {
    @Test("The test's murmur2 matches Kafka's published test vectors")
    func murmur2MatchesKafkaVectors() {
        #expect(javaMurmur2(bytes("21")) == -973_932_308)
        #expect(javaMurmur2(bytes("foobar")) == -790_332_482)
        #expect(javaMurmur2(bytes("a-little-bit-long-string")) == -985_981_536)
        #expect(javaMurmur2(bytes("a-little-bit-longer-string")) == -1_486_304_829)
        #expect(javaMurmur2(bytes("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")) == -58_897_971)
        #expect(javaMurmur2(bytes("abc")) == 479_470_107)
    }

    @Test("The same key always lands on the partition the Java client would choose", .timeLimit(.minutes(1)))
    func keysUseJavaPartitioning() async throws {
        let topic = uniqueName("partitioning")
        let partitions: Int32 = 6
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: partitions)])
        let producer = try cluster.producer()
        let keys = (0..<20).map { "thread-\($0)" }
        let records = (keys + keys).map { KafkaProducerRecord(topic: topic, key: bytes($0), value: bytes("v")) }
        let reports = try await producer.send(records).map { try $0.get() }
        for (index, key) in keys.enumerated() {
            let expected = javaPartition(for: bytes(key), partitions: partitions)
            #expect(reports[index].partition == expected, "key \(key): first send")
            #expect(reports[index + keys.count].partition == expected, "key \(key): second send")
        }
        #expect(Set(reports.map(\.partition)).count > 1, "20 keys should spread over several partitions")
        await producer.close()
    }

    @Test("A send after close fails with a closed error", .timeLimit(.minutes(1)))
    func sendAfterCloseFails() async throws {
        let topic = uniqueName("closed")
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: 1)])
        let producer = try cluster.producer()
        _ = try await producer.send(topic: topic, key: nil, value: bytes("before"))
        try await producer.flush(timeout: .seconds(10))
        await producer.close()
        let error = await #expect(throws: KafkaError.self) {
            try await producer.send(topic: topic, key: nil, value: bytes("after"))
        }
        #expect(error?.code == .closed)
    }

    @Test("An invalid librdkafka property gives an error naming the property", arguments: [
        ["no.such.property": "1"], ["acks": "banana"],
    ])
    func invalidPropertyIsNamed(properties: [String: String]) throws {
        var configuration = KafkaProducer.Configuration(bootstrapServers: "127.0.0.1:1")
        configuration.librdkafkaProperties = properties
        let error = #expect(throws: KafkaError.self) {
            _ = try KafkaProducer(configuration: configuration, logger: .init(label: "test"))
        }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.description.contains(properties.keys.first!) == true, "\(String(describing: error))")
    }
}
