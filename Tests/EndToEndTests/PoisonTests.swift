import Foundation
import Interlude
import InterludeKafka
import InterludePostgres
import InterludeTestSupport
import InterludeWorker
import Testing

/// Bad messages mixed with valid traffic on the same partitions: each bad one reaches the
/// dead-letter topic with its reason (at least once) and never holds up the valid runs behind it.
@Suite("Poison messages", .tags(.e2e), .serialized, .timeLimit(.minutes(10)))
struct PoisonTests {
    /// One kind of bad message: where it is sent, how it is made from a unique number, and the
    /// reason its dead letter must carry.
    struct Kind: Sendable {
        var name: String
        var resumesTopic = false
        var reason: String
        var make: @Sendable (Int) -> [UInt8]
    }

    static func envelope(_ i: Int, _ fields: String, type: String = "run", thread: String? = nil, id: String? = nil) -> [UInt8] {
        let threadID = thread ?? "poison-\(i)"
        return Array(#"{"type":"\#(type)","schema_version":1,"id":"\#(id ?? "bad-\(i)")","thread_id":"\#(threadID)","created_at":"2026-01-01T00:00:00Z"\#(fields)}"#.utf8)
    }

    static let long = String(repeating: "t", count: 3000)

    /// The id of the command ``startOwner(_:)`` settles before the bad messages are sent: the
    /// `duplicate_id` kind reuses it on other threads.
    static let ownerCommandID = "poison-owner"

    /// Sixteen kinds, each with the reason the worker gives it.
    static let kinds: [Kind] = [
        Kind(name: "not JSON", reason: "undecodable") { _ in Array("not json at all".utf8) },
        Kind(name: "invalid UTF-8 bytes", reason: "undecodable") { _ in [0xff, 0xfe, 0x00, 0x9c] },
        Kind(name: "a JSON array", reason: "undecodable") { _ in Array("[1,2,3]".utf8) },
        Kind(name: "missing fields", reason: "invalid_envelope") { i in Array(#"{"type":"run","id":"bad-\#(i)"}"#.utf8) },
        Kind(name: "unsupported schema version", reason: "unsupported_schema_version") { i in
            Array(#"{"type":"run","schema_version":9,"id":"bad-\#(i)","thread_id":"t","created_at":"2026-01-01T00:00:00Z","graph":"approval"}"#.utf8)
        },
        Kind(name: "unknown type", reason: "unknown_type") { i in envelope(i, "", type: "launch") },
        Kind(name: "unknown graph", reason: "unknown_graph") { i in envelope(i, #","graph":"nope","input":{}"#) },
        Kind(name: "a resume on the runs topic", reason: "wrong_topic") { i in envelope(i, #","value":true"#, type: "resume") },
        Kind(name: "a run on the resumes topic", resumesTopic: true, reason: "wrong_topic") { i in envelope(i, #","graph":"approval","input":{}"#) },
        Kind(name: "a 3,000-character thread id", reason: "invalid_envelope") { i in envelope(i, #","graph":"approval","input":{}"#, thread: "\(i)-" + long) },
        Kind(name: "a 3,000-character command id", reason: "invalid_envelope") { i in envelope(i, #","graph":"approval","input":{}"#, id: "\(i)-" + long) },
        Kind(name: "a NUL in a JSON string", reason: "invalid_envelope") { i in envelope(i, #","graph":"approval","input":{"recipient":"a\u0000b","subject":"s"}"#) },
        Kind(name: "a control character in the thread id", reason: "invalid_envelope") { i in envelope(i, #","graph":"approval","input":{}"#, thread: #"t\u0007\#(i)"#) },
        Kind(name: "a resume value of the wrong type", resumesTopic: true, reason: "invalid_envelope") { i in envelope(i, #","values":5"#, type: "resume") },
        Kind(name: "a run with the id of another thread's command", reason: "duplicate_id") { i in envelope(i, #","graph":"approval","input":{}"#, id: ownerCommandID) },
        Kind(name: "a timestamp that is not RFC 3339", reason: "invalid_envelope") { i in
            Array(#"{"type":"run","schema_version":1,"id":"bad-\#(i)","thread_id":"t\#(i)","created_at":"yesterday","graph":"approval","input":{}}"#.utf8)
        },
    ]

    /// Sends the command whose id the `duplicate_id` kind reuses (a `cancel` of a thread that
    /// does not exist: rejected, so its ledger entry is final and no thread is created) and
    /// waits until a worker settled it.
    static func startOwner(_ system: System) async throws {
        let producer = try system.producer()
        let owner = #"{"type":"cancel","schema_version":1,"id":"\#(ownerCommandID)","thread_id":"poison-owner-thread","created_at":"2026-01-01T00:00:00Z"}"#
        _ = try await producer.send(topic: system.topics.runs, key: Array("poison-owner-thread".utf8), value: Array(owner.utf8))
        await producer.close()
        try await system.waitUntil("a worker settled the owner command", seconds: 60) { try await system.count(SQL.ownerSettled) > 0 }
    }

    /// `count` bad messages cycling through the kinds, keyed `kind-N` so each dead letter can
    /// be traced back to its kind.
    static func records(_ system: System, count: Int, keys: (Int) -> String) -> [KafkaProducerRecord] {
        (0..<count).map { i in
            let kind = kinds[i % kinds.count]
            return KafkaProducerRecord(topic: kind.resumesTopic ? system.topics.resumes : system.topics.runs, key: Array("\(i % kinds.count)-\(keys(i))".utf8), value: kind.make(i))
        }
    }

    /// Reads the dead-letter topic until letters for `count` distinct messages came, then checks
    /// each letter's reason against the kind its key names. A letter's id names the original
    /// message (topic, partition, offset): a message dead-lettered again after a rebalance
    /// (at least once, like every event) carries the same id.
    static func expectDeadLetters(_ system: System, count: Int) async throws {
        let dlq = try EventCollector(bootstrap: system.cluster.bootstrapServers, topics: [system.topics.dlq])
        do {
            try await dlq.collect(until: { Set($0.compactMap { $0["id"]?.stringValue }).count >= count }, seconds: 180)
        } catch {
            await dlq.consumer.close()
            throw SystemError("\(error): \(dlq.all.count) of \(count) dead letters\n\(system.workerLogs())")
        }
        await dlq.consumer.close()
        let letters = dlq.all
        #expect(Set(letters.compactMap { $0["id"]?.stringValue }).count == count, "every bad message is dead-lettered")
        var wrong: [String] = []
        var seen = Set<String>()
        for letter in letters {
            let key = letter["key"]?.stringValue ?? ""
            guard let index = Int(key.prefix { $0 != "-" }), kinds.indices.contains(index) else {
                wrong.append("a letter with key '\(key.prefix(40))'")
                continue
            }
            seen.insert(kinds[index].name)
            if letter["reason"]?.stringValue != kinds[index].reason {
                wrong.append("\(kinds[index].name): expected \(kinds[index].reason), got \(letter["reason"]?.stringValue ?? "none") (\(letter["detail"]?.stringValue ?? ""))")
            }
        }
        #expect(wrong.isEmpty, "\(Set(wrong).sorted())")
        #expect(seen.count == min(count, kinds.count), "every kind was dead-lettered: \(seen.sorted())")
    }

    @Test("issue 7's first bug: a run with a 3,000-character thread id, a NUL and other poison ahead of valid runs on one partition; the bad ones are dead-lettered and every valid run completes")
    func poisonAheadOfValidRuns() async throws {
        try await withSystem(partitions: 1) { system in
            try system.startWorkers(1)
            try await Self.startOwner(system)
            let producer = try system.producer()
            // The bad messages first: everything valid queues behind them on the one partition.
            for result in await producer.send(Self.records(system, count: Self.kinds.count) { "\($0)" }) { _ = try result.get() }
            await producer.close()
            // Events are read from the start of their topics (ProbeTraffic), so none is missed
            // however fast the worker is; the load driver starts at the latest offset.
            let traffic = ProbeTraffic(system: system, prefix: "behind", count: 5, edits: false)
            _ = try await traffic.drive(seconds: 90)
            #expect(try await system.count(SQL.completedBehind) == 5, "\(system.workerLogs())")
            try await Self.expectDeadLetters(system, count: Self.kinds.count)
        }
    }

    @Test("10,000 bad messages of 16 kinds mixed with valid traffic on the same partitions: each dead-lettered with its reason, every valid run completes")
    func tenThousand() async throws {
        try await withSystem { system in
            try system.startWorkers(2)
            try await Self.startOwner(system)
            let producer = try system.producer()
            let total = 10_000
            let bad = Self.records(system, count: total) { "bad-\($0 % 37)" }
            let report = try await system.driver.run(count: 200, timeout: .seconds(240), threadPrefix: "valid", whileRunning: { _ in
                // In slices, so valid commands and resumes interleave with the bad ones.
                for slice in stride(from: 0, to: total, by: 500) {
                    for result in await producer.send(Array(bad[slice..<min(slice + 500, total)])) { _ = try result.get() }
                }
            })
            #expect(report.runs == 200, "\(system.workerLogs())")
            #expect(try await system.count(SQL.completedThreads) == 200)
            #expect(try await system.count(SQL.threadsNotAtVersionTwo) == 0)
            #expect(report.rejected == 0)
            try await Self.expectDeadLetters(system, count: total)
            await producer.close()
        }
    }
}

extension SQL {
    static let ownerSettled = PostgresStatement("e2e.owner_settled", sql: "SELECT count(*) FROM command_ledger WHERE command_id = 'poison-owner' AND status <> 'started'")
    static let completedBehind = PostgresStatement("e2e.completed_behind", sql: "SELECT count(*) FROM threads WHERE status = 'completed' AND thread_id LIKE 'behind-%'")
}
