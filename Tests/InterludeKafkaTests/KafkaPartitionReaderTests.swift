import Foundation
import Synchronization
import Testing

@testable import InterludeKafka

@Suite("KafkaPartitionReader", .tags(.kafka))
struct KafkaPartitionReaderTests {
    @Test("reads watermarks, a range by offset, messages as they come, offsets at a time and a group's committed offsets", .timeLimit(.minutes(2)))
    func offsets() async throws {
        let topic = uniqueName("reader")
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: 1)])
        let producer = try cluster.producer()
        for i in 0..<5 { _ = try await producer.send(topic: topic, key: bytes("k\(i)"), value: bytes("v\(i)")) }
        let partition = TopicPartition(topic: topic, partition: 0)
        let group = uniqueName("group")
        let reader = try KafkaPartitionReader(configuration: .init(bootstrapServers: cluster.cluster.bootstrapServers, groupID: group), logger: cluster.logger)

        #expect(try await reader.watermarks([partition]) == [partition: KafkaWatermarks(low: 0, high: 5)])
        let range = try await reader.read(from: [partition: 1], through: [partition: 3])
        #expect(range.map(\.offset) == [1, 2, 3])
        #expect(range.map { text($0.value) } == ["v1", "v2", "v3"])
        #expect(range.map { text($0.key) } == ["k1", "k2", "k3"])
        #expect(try await reader.read(from: [partition: 4], through: [partition: 3]).isEmpty)
        #expect(try await reader.offsets(at: Date().addingTimeInterval(3600), [partition]) == [partition: 5])

        let seen = Mutex<[Int64]>([])
        let stopped = try await reader.follow(from: [partition: 3], timeout: .seconds(30)) { message in
            seen.withLock { $0.append(message.offset) }
            return message.offset == 4
        }
        #expect(stopped && seen.withLock { $0 } == [3, 4])

        #expect(try await reader.committed([partition]).isEmpty)
        let consumer = try cluster.consumer(topics: [topic], group: group)
        let messages = try await readMessages(3, from: consumer)
        try consumer.storeOffset(of: messages[2])
        try await consumer.commit()
        #expect(try await reader.committed([partition]) == [partition: 3])
        await consumer.close()
        await producer.close()
    }
}
