import Synchronization
import Testing

@testable import InterludeKafka

@Suite("KafkaConsumer", .tags(.kafka))
struct KafkaConsumerTests {
    @Test("Produced messages come back with their keys, values and headers", .timeLimit(.minutes(1)))
    func roundTrip() async throws {
        let topic = uniqueName("round-trip")
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: 3)])
        let producer = try cluster.producer()
        let headers = [KafkaHeader(name: "type", value: bytes("run")), KafkaHeader(name: "empty", value: nil)]
        var sent: [String: DeliveryReport] = [:]
        for index in 0..<5 {
            sent["value-\(index)"] = try await producer.send(
                topic: topic, key: bytes("thread-\(index)"), value: bytes("value-\(index)"), headers: headers)
        }
        let consumer = try cluster.consumer(topics: [topic], group: uniqueName("group"))
        let messages = try await readMessages(5, from: consumer)
        for message in messages {
            let value = text(message.value)
            let report = try #require(sent[value], "unexpected value \(value)")
            #expect(message.topic == topic)
            #expect(message.partition == report.partition && message.offset == report.offset)
            #expect(text(message.key) == value.replacingOccurrences(of: "value", with: "thread"))
            #expect(message.headers == headers)
            #expect(message.timestampMilliseconds != nil)
        }
        await consumer.close()
        await producer.close()
    }

    @Test("Offsets not stored are redelivered to the next member of the group; stored ones are not",
          .timeLimit(.minutes(2)))
    func onlyStoredOffsetsAreCommitted() async throws {
        let topic = uniqueName("redelivery")
        let group = uniqueName("group")
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: 1)])
        let producer = try cluster.producer()
        let records = (0..<10).map { KafkaProducerRecord(topic: topic, key: bytes("k"), value: bytes("m\($0)")) }
        _ = try await producer.send(records).map { try $0.get() }

        let first = try cluster.consumer(topics: [topic], group: group)
        let firstRead = try await readMessages(10, from: first)
        for message in firstRead.prefix(4) { try first.storeOffset(of: message) }
        await first.close()  // leaving the group commits the stored offsets

        let second = try cluster.consumer(topics: [topic], group: group)
        let secondRead = try await readMessages(6, from: second)
        #expect(secondRead.map(\.offset) == Array(4..<10), "work not stored must come again, and only that")
        #expect(secondRead.map { text($0.value) } == (4..<10).map { "m\($0)" })
        await second.close()
        await producer.close()
    }

    @Test("A static member (group.instance.id) is assigned partitions and reads messages", .timeLimit(.minutes(1)))
    func staticMembership() async throws {
        let topic = uniqueName("static")
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: 2)])
        let producer = try cluster.producer()
        _ = try await producer.send(topic: topic, key: bytes("thread-7"), value: bytes("static"))
        let consumer = try cluster.consumer(topics: [topic], group: uniqueName("group")) {
            $0.groupInstanceID = uniqueName("worker")
        }
        let read = try await readMessages(1, from: consumer)
        #expect(text(read.first?.value) == "static")
        await consumer.close()
        await producer.close()
    }

    @Test("Closing revokes the assignment as an event and then ends the events", .timeLimit(.minutes(1)))
    func closeRevokesAndEnds() async throws {
        let topic = uniqueName("close")
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: 2)])
        let consumer = try cluster.consumer(topics: [topic], group: uniqueName("group"))
        let assigned = try await waitFor("an assignment") { () async throws -> [TopicPartition]? in
            for try await event in consumer.events {
                if case .partitionsAssigned(let partitions) = event { return partitions }
            }
            return nil
        }
        await consumer.close()
        var after: [KafkaConsumerEvent] = []
        for try await event in consumer.events { after.append(event) }
        guard after.count == 1, case .partitionsRevoked(let revoked) = after[0] else {
            Issue.record("expected one revocation after close, got \(after)")
            return
        }
        #expect(Set(revoked) == Set(assigned))
    }

    @Test("An explicit commit of nothing succeeds and a commit after close fails", .timeLimit(.minutes(1)))
    func commitEdges() async throws {
        let topic = uniqueName("commit")
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: 1)])
        let consumer = try cluster.consumer(topics: [topic], group: uniqueName("group"))
        try await consumer.commit()
        await consumer.close()
        let error = await #expect(throws: KafkaError.self) { try await consumer.commit() }
        #expect(error?.code == .closed)
    }

    @Test("A commit rejected during a rebalance is a retriable error, and a retry succeeds", .timeLimit(.minutes(1)))
    func commitDuringRebalanceIsRetriable() async throws {
        let topic = uniqueName("rebalancing")
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: 1)])
        let producer = try cluster.producer()
        _ = try await producer.send(topic: topic, key: nil, value: bytes("work"))
        let consumer = try cluster.consumer(topics: [topic], group: uniqueName("group"))
        let message = try #require(try await readMessages(1, from: consumer).first)
        try consumer.storeOffset(of: message)
        cluster.cluster.injectRequestErrors([.rebalanceInProgress], for: .offsetCommit)
        let error = await #expect(throws: KafkaError.self) { try await consumer.commit() }
        #expect(error?.code == .commitFailed)
        #expect(error?.isRetriable == true, "\(String(describing: error))")
        #expect(error?.underlyingErrorName == "REBALANCE_IN_PROGRESS")
        try await consumer.commit()
        await consumer.close()
        await producer.close()
    }

    @Test("Storing an offset of a partition this consumer does not own fails clearly", .timeLimit(.minutes(1)))
    func storeOffsetOfUnassignedPartitionFails() async throws {
        let topic = uniqueName("unowned")
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: 1)])
        let consumer = try cluster.consumer(topics: [topic], group: uniqueName("group"))
        let error = #expect(throws: KafkaError.self) { try consumer.storeOffset(topic: topic, partition: 0, offset: 3) }
        #expect(error?.code == .offsetStore)
        #expect(error?.message.contains(topic) == true)
        await consumer.close()
    }

    @Test("Two consumers of one group split the partitions between them", .timeLimit(.minutes(2)))
    func groupSplitsPartitions() async throws {
        let topic = uniqueName("split")
        let group = uniqueName("group")
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: 4)])
        let consumers = try [cluster.consumer(topics: [topic], group: group), cluster.consumer(topics: [topic], group: group)]
        let assignments = Shared<[Set<TopicPartition>]>([[], []])
        let all = Set((0..<4).map { TopicPartition(topic: topic, partition: $0) })
        // The first join takes ~3 s (initial rebalance delay), the second member a few more.
        let split = try await waitFor("both consumers to own a disjoint share of the 4 partitions", seconds: 60) {
            try await withThrowingTaskGroup(of: [Set<TopicPartition>]?.self) { group in
                for (index, consumer) in consumers.enumerated() {
                    group.addTask {
                        for try await event in consumer.events {
                            let snapshot = assignments.withLock { state -> [Set<TopicPartition>] in
                                switch event {
                                case .partitionsAssigned(let added): state[index].formUnion(added)
                                case .partitionsRevoked(let removed), .partitionsLost(let removed):
                                    state[index].subtract(removed)
                                case .message, .messagesSkipped: break
                                }
                                return state
                            }
                            let isSplit = !snapshot[0].isEmpty && !snapshot[1].isEmpty
                                && snapshot[0].isDisjoint(with: snapshot[1]) && snapshot[0].union(snapshot[1]) == all
                            if isSplit { return snapshot }
                        }
                        return nil
                    }
                }
                defer { group.cancelAll() }
                while let result = try await group.next() {
                    if let result { return result }
                }
                return nil
            }
        }
        #expect(split[0].count + split[1].count == 4)
        for consumer in consumers { await consumer.close() }
    }

    @Test("A paused partition delivers nothing until it is resumed", .timeLimit(.minutes(2)))
    func pauseAndResume() async throws {
        let paused = uniqueName("paused")
        let marker = uniqueName("marker")
        let cluster = try TestCluster(topics: [
            KafkaTopicSpec(name: paused, partitions: 1), KafkaTopicSpec(name: marker, partitions: 1),
        ])
        let producer = try cluster.producer()
        let consumer = try cluster.consumer(topics: [paused, marker], group: uniqueName("group"))
        _ = try await producer.send(topic: paused, key: nil, value: bytes("warm-up"))
        let warmUp = try await readMessages(1, from: consumer)
        #expect(text(warmUp.first?.value) == "warm-up")

        let partition = TopicPartition(topic: paused, partition: 0)
        try consumer.pause([partition])
        for index in 0..<3 { _ = try await producer.send(topic: paused, key: nil, value: bytes("held-\(index)")) }
        // The marker topic is not paused: once its message arrives, the consumer has been
        // fetching after the held messages were written, so they would have shown up too.
        _ = try await producer.send(topic: marker, key: nil, value: bytes("marker"))
        let untilMarker = try await waitFor("the marker message") {
            var seen: [KafkaMessage] = []
            for try await event in consumer.events {
                guard case .message(let message) = event else { continue }
                seen.append(message)
                if message.topic == marker { return seen }
            }
            return nil
        }
        #expect(untilMarker.map(\.topic) == [marker], "paused partition delivered \(untilMarker.count - 1) messages")

        try consumer.resume([partition])
        let held = try await readMessages(3, from: consumer)
        #expect(held.map { text($0.value) } == ["held-0", "held-1", "held-2"])
        await consumer.close()
        await producer.close()
    }

    @Test("A consumer with every partition paused delivers the held messages once, in order, after a resume",
          .timeLimit(.minutes(1)))
    func resumeWithEveryPartitionPaused() async throws {
        // The resume wakes the broker thread (FetchWaker); librdkafka alone would let an idle
        // broker thread sleep up to a second first. This checks the messages, not the delay.
        let topic = uniqueName("all-paused")
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: 1)])
        let producer = try cluster.producer()
        let consumer = try cluster.consumer(topics: [topic], group: uniqueName("group"))
        _ = try await producer.send(topic: topic, key: nil, value: bytes("warm-up"))
        #expect(try await readMessages(1, from: consumer).map { text($0.value) } == ["warm-up"])

        let partition = TopicPartition(topic: topic, partition: 0)
        for round in 0..<3 {
            try consumer.pause([partition])
            for index in 0..<4 { _ = try await producer.send(topic: topic, key: nil, value: bytes("r\(round)-\(index)")) }
            try consumer.resume([partition])
            let held = try await readMessages(4, from: consumer)
            #expect(held.map { text($0.value) } == (0..<4).map { "r\(round)-\($0)" }, "round \(round)")
        }
        await consumer.close()
        await producer.close()
    }

    @Test("A consumer whose events are not read holds its polls, never pauses, and later delivers every message once",
          .timeLimit(.minutes(1)))
    func backlogHoldsPolls() async throws {
        let topic = uniqueName("backlog")
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: 2)])
        let producer = try cluster.producer()
        let values = (0..<60).map { "m\($0)" }
        _ = try await producer.send(values.map {
            KafkaProducerRecord(topic: topic, key: bytes("key-\($0)"), value: bytes($0))
        }).map { try $0.get() }
        let capture = LogCapture()
        let consumer = try cluster.consumer(
            topics: [topic], group: uniqueName("group"), logger: capture.logger(level: .debug)
        ) {
            $0.maxBufferedMessages = 5
            // librdkafka logs every pause and resume of a partition under its "topic" context.
            $0.librdkafkaProperties["debug"] = "topic"
        }
        _ = try await capture.waitForLine(containingAnyOf: ["holding polls"])
        let read = try await readMessages(60, from: consumer)
        #expect(read.map { text($0.value) }.sorted() == values.sorted(), "every message exactly once")
        for partition in Set(read.map(\.partition)) {
            let offsets = read.filter { $0.partition == partition }.map(\.offset)
            #expect(offsets == Array(0..<Int64(offsets.count)), "partition \(partition) offsets in order, no gaps")
        }
        // With librdkafka 2.0.2 a resumed partition waits for the broker thread's next look at
        // its partitions, up to a second when every partition was paused: a backlog must not
        // pause the assignment.
        let pauses = capture.all.filter { $0.contains("Pause \(topic)") }
        #expect(pauses.isEmpty, "the backlog paused partitions: \(pauses.prefix(3))")
        await consumer.close()
        await producer.close()
    }

    @Test("Consumers polling never starve the cooperative thread pool", .timeLimit(.minutes(2)))
    func cooperativePoolStaysLive() async throws {
        let topic = uniqueName("liveness")
        let group = uniqueName("group")
        let cluster = try TestCluster(topics: [KafkaTopicSpec(name: topic, partitions: 2)])
        let consumers = try [cluster.consumer(topics: [topic], group: group), cluster.consumer(topics: [topic], group: group)]
        let ticks = Atomic<Int>(0)
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(10))
                ticks.add(1, ordering: .relaxed)
            }
        }
        // While both members join (seconds of polling on their threads) and commit, the ticker
        // must keep running. Counting ticks, not measuring time: a starved pool gives ~0.
        let _: Bool = try await waitFor("both consumers to receive an assignment", seconds: 60) {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for consumer in consumers {
                    group.addTask {
                        for try await event in consumer.events {
                            if case .partitionsAssigned(let added) = event, !added.isEmpty { return true }
                        }
                        return false
                    }
                }
                for consumer in consumers {
                    group.addTask {
                        try await consumer.commit()
                        return true
                    }
                }
                var finished = 0
                while let ok = try await group.next() {
                    guard ok else { return nil }
                    finished += 1
                }
                return finished == 4 ? true : nil
            }
        }
        // The consumers keep polling on their threads until closed; the ticker must keep
        // ticking meanwhile. Waiting for a count (bounded) instead of counting over a fixed
        // window keeps the test independent of how busy the machine is.
        let deadline = ContinuousClock.now + .seconds(30)
        while ticks.load(ordering: .relaxed) <= 20, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        ticker.cancel()
        let counted = ticks.load(ordering: .relaxed)
        #expect(counted > 20, "the 10 ms ticker ran only \(counted) times in 30 s while consumers polled")
        for consumer in consumers { await consumer.close() }
    }
}
