import Foundation
import Interlude
import InterludeExamples
import InterludeKafka
import InterludePostgres
import InterludeWorker
import Logging
import ServiceLifecycle
import Synchronization
import InterludeTestSupport
import Testing

/// The whole product: `interlude worker` processes in one consumer group, PostgreSQL, and the
/// mock Kafka cluster over TCP, driven as review apps and backends would drive them.
@Suite("End to end", .tags(.e2e), .serialized, .timeLimit(.minutes(10)))
struct EndToEndTests {
    @Test("three workers drive 500 approval threads, one is killed with SIGKILL mid-load, and every thread completes exactly once")
    func fiveHundredWithACrash() async throws {
        try await withSystem(partitions: 6) { system in
            try system.startWorkers(3)
            // Paced (2.5 s of sending), so the kill lands while runs are still being sent.
            let killedAt = Mutex<Int64?>(nil)
            let report = try await system.driver.run(count: 500, timeout: .seconds(240), threadPrefix: "load", rate: 200, whileRunning: { _ in
                try await system.waitUntil("100 threads completed") { try await system.count(SQL.completedThreads) >= 100 }
                let completed = try await system.count(SQL.completedThreads)
                system.workers[0].kill9()
                killedAt.withLock { $0 = completed }
            })
            let completedAtKill = try #require(killedAt.withLock { $0 }, "the load completed before the worker was killed: the test proved nothing")
            #expect(completedAtKill < 500, "every run had completed before the kill")
            #expect(report.runs == 500, "\(system.workerLogs())")
            #expect(try await system.count(SQL.completedThreads) == 500)
            // One commit for the run and one for the resume: nothing was applied twice.
            #expect(try await system.count(SQL.threadsNotAtVersionTwo) == 0)
            #expect(try await system.count(SQL.interrupts) == 500)
            #expect(try await system.count(SQL.resolvedInterrupts) == 500)
            #expect(try await system.count(SQL.ledger) == 1000)
            let completed = report.events.filter { $0["type"] == "completed" }
            #expect(Set(completed.compactMap { $0["thread_id"]?.stringValue }).count == 500)
            // Events may be delivered more than once after a crash, but always with the same id.
            #expect(Set(completed.compactMap { $0["id"]?.stringValue }).count == 500)
            #expect(report.rejected == 0)
            let statuses = await system.stopWorkers()
            #expect(statuses.dropFirst().allSatisfy { $0 == 0 }, "surviving workers exit 0 on SIGTERM: \(statuses)")
        }
    }

    @Test("duplicate, unknown, late and conflicting resumes: exactly one applies, the rest are rejected with reasons")
    func resumesRejected() async throws {
        try await withSystem { system in
            try system.startWorkers(2)
            let producer = try system.producer()
            let client = CommandClient(producer: producer, topics: system.topics)
            let watcher = try EventCollector(bootstrap: system.cluster.bootstrapServers, topics: [system.topics.reviews, system.topics.events])
            try await client.send(CommandMessage(id: "run-1", threadID: "t1", body: .run(graph: "approval", input: ["recipient": "a@example.com", "subject": "s"], config: nil, ifBusy: .reject)))
            try await watcher.collect(until: { $0.contains { $0["type"] == "interrupt" && $0["thread_id"] == "t1" } })
            let review = try #require(watcher.all.first { $0["type"] == "interrupt" })
            let interrupt = try #require(review["interrupt_id"]?.stringValue)
            let approve = CommandMessage(id: "resume-a", threadID: "t1", body: .resume(value: nil, values: [interrupt: ["approved": true]], checkpointID: nil))
            try await client.send(approve)
            try await client.send(approve)  // the same command again: a duplicate, ignored
            try await client.send(CommandMessage(id: "resume-b", threadID: "t1", body: .resume(value: nil, values: [interrupt: ["approved": false]], checkpointID: nil)))
            try await client.send(CommandMessage(id: "resume-c", threadID: "t1", body: .resume(value: nil, values: ["no-such-interrupt": true], checkpointID: nil)))
            try await client.send(CommandMessage(id: "resume-d", threadID: "t1", body: .resume(value: ["approved": true], values: nil, checkpointID: nil)))
            try await client.send(CommandMessage(id: "resume-e", threadID: "nobody", body: .resume(value: true, values: nil, checkpointID: nil)))
            try await watcher.collect(until: { $0.filter { $0["type"] == "rejected" }.count >= 4 })
            var reasons: [String: String] = [:]
            for rejected in watcher.all where rejected["type"] == "rejected" {
                reasons[rejected["command_id"]?.stringValue ?? ""] = rejected["reason"]?.stringValue
            }
            #expect(reasons == ["resume-b": "already_resolved", "resume-c": "unknown_interrupt", "resume-d": "no_pending_interrupt", "resume-e": "unknown_thread"])
            let state = try #require(try await system.checkpointer.thread("t1"))
            #expect(state.status == .completed)
            #expect(state.version == 2)
            let completed = watcher.all.filter { $0["type"] == "completed" && $0["thread_id"] == "t1" }
            #expect(completed.first?["values"]?["outcome"] == "sent")
            await producer.close()
            await watcher.consumer.close()
        }
    }

    @Test("replaying the runs and resumes topics from offset 0 with a fresh group changes nothing and publishes nothing")
    func replay() async throws {
        try await withSystem { system in
            try system.startWorkers(2)
            let report = try await system.driver.run(count: 50, timeout: .seconds(240), threadPrefix: "replay")
            #expect(report.runs == 50)
            _ = await system.stopWorkers()
            let before = (try await system.count(SQL.versionSum), try await system.count(SQL.outbox), try await system.count(SQL.ledger), try await system.count(SQL.checkpoints))

            let stats = try await system.replayFromStart(expectedCommands: 100)
            // At least the 50 runs and 50 resumes: review events are delivered at least once,
            // and the driver answers every copy (with the same command id), so the resumes
            // topic may hold a few copies; each is a duplicate too.
            #expect(stats.duplicates >= 100)
            #expect(stats.processed == 0)
            let after = (try await system.count(SQL.versionSum), try await system.count(SQL.outbox), try await system.count(SQL.ledger), try await system.count(SQL.checkpoints))
            #expect(after == before)
        }
    }

    @Test("a fault script that fails fails the load with its own error, at once, instead of being dropped while the load runs on")
    func failingFaultScript() async throws {
        struct ScriptFailed: Error {}
        try await withSystem { system in
            // No worker: the runs never complete, so only the script's error can end the load
            // before its timeout.
            await #expect(throws: ScriptFailed.self) {
                _ = try await system.driver.run(count: 3, timeout: .seconds(60), threadPrefix: "script", rate: 1, whileRunning: { _ in throw ScriptFailed() })
            }
        }
    }

    @Test("with the broker down for three seconds mid-load nothing is lost and progress resumes")
    func brokerDown() async throws {
        try await withSystem { system in
            try system.startWorkers(2)
            // Paced (5 s of sending), so the outage lands while runs are still being sent.
            let outage = Mutex(false)
            let report = try await system.driver.run(count: 200, timeout: .seconds(240), threadPrefix: "outage", rate: 40, whileRunning: { _ in
                try await system.waitUntil("30 threads completed") { try await system.count(SQL.completedThreads) >= 30 }
                try system.cluster.setBrokerDown(1)
                outage.withLock { $0 = true }
                try await Task.sleep(for: .seconds(3))  // the length of the outage, not a wait for an outcome
                try system.cluster.setBrokerUp(1)
            })
            #expect(outage.withLock { $0 }, "the load completed before the broker went down: the test proved nothing")
            #expect(report.runs == 200, "\(system.workerLogs())")
            #expect(try await system.count(SQL.completedThreads) == 200)
            #expect(try await system.count(SQL.threadsNotAtVersionTwo) == 0)
        }
    }

    @Test("a paced load keeps its pace while the broker is down (runs are handed to the producer, not sent one acknowledgement at a time), and every run completes once the broker is back")
    func pacedLoadKeepsPaceWhileBrokerDown() async throws {
        try await withSystem { system in
            try system.startWorkers(1)
            let progress = LoadProgress()
            let handedOverAtOutage = Mutex<Int?>(nil)
            let report = try await system.driver.run(count: 200, timeout: .seconds(240), threadPrefix: "paced", rate: 100, whileRunning: { _ in
                try system.cluster.setBrokerDown(1)
                handedOverAtOutage.withLock { $0 = progress.started }
                // Nothing can be acknowledged now: a driver that waited for each acknowledgement
                // would stop here until the broker is back, and this wait would time out.
                try await system.waitUntil("all 200 runs handed over while the broker is down", seconds: 60) { progress.started == 200 }
                try system.cluster.setBrokerUp(1)
            }, progress: progress)
            let atOutage = try #require(handedOverAtOutage.withLock { $0 })
            #expect(atOutage < 200, "every run was handed over before the broker went down: the test proved nothing")
            #expect(report.runs == 200, "\(system.workerLogs())")
            #expect(try await system.count(SQL.completedThreads) == 200)
            #expect(try await system.count(SQL.threadsNotAtVersionTwo) == 0)
        }
    }

    @Test("with the broker down past the session timeout the group forgets every member; they rejoin and every run completes once")
    func brokerDownPastSessionTimeout() async throws {
        try await withSystem { system in
            try system.startWorkers(2)
            let report: LoadDriver.Report
            // Paced (5 s of sending), so the outage lands while runs are still being sent.
            let outage = Mutex(false)
            do {
                report = try await system.driver.run(count: 200, timeout: .seconds(240), threadPrefix: "evicted", rate: 40, whileRunning: { _ in
                    try await system.waitUntil("30 threads completed") { try await system.count(SQL.completedThreads) >= 30 }
                    try system.cluster.setBrokerDown(1)
                    outage.withLock { $0 = true }
                    // The length of the outage, not a wait for an outcome: past the workers' and
                    // the driver's 10 s session timeout, so the coordinator expires every member.
                    try await Task.sleep(for: .seconds(14))
                    try system.cluster.setBrokerUp(1)
                })
            } catch {
                // Where the runs stopped: in PostgreSQL, in the outbox, or in the driver's consumer.
                let completed = try await system.count(SQL.completedThreads), unpublished = try await system.count(SQL.unpublished)
                Issue.record("completed threads in PostgreSQL: \(completed) of 200, outbox rows unpublished: \(unpublished)\n\(system.workerLogs())")
                throw error
            }
            #expect(outage.withLock { $0 }, "the load completed before the broker went down: the test proved nothing")
            #expect(report.runs == 200, "\(system.workerLogs())")
            #expect(try await system.count(SQL.completedThreads) == 200)
            #expect(try await system.count(SQL.threadsNotAtVersionTwo) == 0)
            #expect(try await system.count(SQL.ledger) == 400)
        }
    }
}
