import Testing

@testable import InterludeKafka

@Suite("Messages deleted before they were read", .tags(.kafka))
struct OffsetResetTests {
    @Test("A group whose committed offset the broker deleted gets one messagesSkipped event naming the lost offsets, then the messages after them", .timeLimit(.minutes(2)))
    func retentionGap() async throws {
        let topic = uniqueName("retention")
        let group = uniqueName("group")
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: 1)])
        let producer = try cluster.producer()
        let partition = TopicPartition(topic: topic, partition: 0)
        _ = try await producer.send((0..<10).map { KafkaProducerRecord(topic: topic, key: bytes("k"), value: bytes("m\($0)")) }).map { try $0.get() }

        let first = try cluster.consumer(topics: [topic], group: group)
        let firstRead = try await readMessages(10, from: first)
        try first.storeOffset(of: firstRead[0])
        await first.close()  // commits offset 1

        // The embedded cluster keeps at most 5 MB per partition: 6 MB more pushes the oldest
        // messages out, offset 1 among them, before the group reads them.
        let large = [UInt8](repeating: 0x61, count: 100_000)
        _ = try await producer.send((0..<60).map { _ in KafkaProducerRecord(topic: topic, key: bytes("k"), value: large) }).map { try $0.get() }

        let second = try cluster.consumer(topics: [topic], group: group)
        let (skipped, next) = try await waitFor("the gap and the message after it", seconds: 60) { () -> (Range<Int64>?, KafkaMessage)? in
            var skipped: Range<Int64>?
            for try await event in second.events {
                switch event {
                case .messagesSkipped(let skippedPartition, let offsets):
                    #expect(skippedPartition == partition)
                    #expect(skipped == nil, "one event per gap")
                    skipped = offsets
                case .message(let message):
                    return (skipped, message)
                default:
                    continue
                }
            }
            return nil
        }
        let gap = try #require(skipped, "the first message after the reset came without a messagesSkipped event (offset \(next.offset))")
        #expect(gap.lowerBound == 1, "the gap starts at the committed offset")
        #expect(gap.upperBound == next.offset, "the gap ends at the first message delivered")
        #expect(next.offset > 1 && next.offset < 70)
        await second.close()
        await producer.close()
    }

    @Test("librdkafka's reset lines are read for the partition and the offset it could not fetch; other lines are not")
    func parsesResetLines() {
        let old = OffsetResetWatch.parse(
            "[thrd:main]: interlude.runs [3]: offset reset (at offset 920, broker 1) to cached BEGINNING offset 4417: fetch failed due to requested offset not available on the broker: Broker: Offset out of range")
        #expect(old?.partition == TopicPartition(topic: "interlude.runs", partition: 3))
        #expect(old?.offset == 920)
        let newer = OffsetResetWatch.parse(
            "my_topic-1 [12]: offset reset (at offset 7 (leader epoch 2), broker 1) to offset BEGINNING (leader epoch -1): fetch failed due to requested offset not available on the broker: Broker: Offset out of range")
        #expect(newer?.partition == TopicPartition(topic: "my_topic-1", partition: 12))
        #expect(newer?.offset == 7)
        #expect(OffsetResetWatch.parse("t [0]: offset reset (at offset INVALID, broker 1) to BEGINNING: no previously committed offset available: Local: No offset stored") == nil)
        #expect(OffsetResetWatch.parse("t [0]: fetch backoff") == nil)

        let watch = OffsetResetWatch()
        #expect(!watch.note(level: 7, facility: "OFFSET", text: "t [0]: offset reset (at offset 5, broker 1) to BEGINNING: x"), "debug-level resets are not errors")
        #expect(watch.note(level: 4, facility: "OFFSET", text: "t [0]: offset reset (at offset 5, broker 1) to BEGINNING: x"))
        let message = KafkaMessage(topic: "t", partition: 0, offset: 9, key: nil, value: [], headers: [], timestampMilliseconds: nil)
        #expect(watch.skipped(before: message) == 5..<9)
        #expect(watch.skipped(before: message) == nil, "reported once")
        #expect(watch.note(level: 4, facility: "OFFSET", text: "t [0]: offset reset (at offset 12, broker 1) to BEGINNING: x"))
        #expect(watch.skipped(before: message) == nil, "a message from before the reset's offset")
        let resumed = KafkaMessage(topic: "t", partition: 0, offset: 15, key: nil, value: [], headers: [], timestampMilliseconds: nil)
        #expect(watch.skipped(before: resumed) == 12..<15, "still pending after the earlier message")
        #expect(watch.note(level: 4, facility: "OFFSET", text: "t [0]: offset reset (at offset 20, broker 1) to BEGINNING: x"))
        let back = KafkaMessage(topic: "t", partition: 0, offset: 20, key: nil, value: [], headers: [], timestampMilliseconds: nil)
        #expect(watch.skipped(before: back) == nil, "a reset that came back to its offset loses nothing")
        #expect(watch.skipped(before: resumed) == nil, "and is over")
    }
}
