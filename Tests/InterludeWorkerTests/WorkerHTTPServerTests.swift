import Foundation
import Interlude
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import Testing
import InterludeTestSupport
@testable import InterludeWorker

/// The worker's `/healthz`, `/readyz` and `/metrics`, served in-process on a free port.
@Suite("Worker HTTP endpoints", .tags(.worker), .timeLimit(.minutes(2)))
struct WorkerHTTPServerTests {
    @Test("healthz answers, readyz gives the reason until the worker joined and again while it drains, metrics carries the series")
    func endpoints() async throws {
        let registry = PrometheusCollectorRegistry()
        let metrics = WorkerMetrics(factory: WorkerDeployment.metricsFactory(registry))
        let worker = Worker(configuration: Worker.Configuration(), registry: GraphRegistry(), store: InMemoryCheckpointer(), logger: Logger(label: "test"), metrics: metrics)
        let storeDown = Mutex(false)
        let probes = WorkerHTTPServer.Probes(
            worker: worker,
            checkStore: { if storeDown.withLock({ $0 }) { throw HTTPProbeError("connection refused") } },
            sample: { metrics.store(outboxPending: 3, interruptsPending: 2) })
        let bound = AsyncStream.makeStream(of: Int.self)
        let server = WorkerHTTPServer(
            configuration: .init(host: "127.0.0.1", port: 0), registry: registry, probes: probes, logger: Logger(label: "test"),
            onBound: { bound.continuation.yield($0) })
        let group = ServiceGroup(configuration: .init(services: [server], logger: Logger(label: "test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var ports = bound.stream.makeAsyncIterator()
            let port = try #require(await ports.next())

            #expect(try await HTTPProbe.get(port: port, "/healthz") == (200, "ok\n"))
            let before = try await HTTPProbe.get(port: port, "/readyz")
            #expect(before.status == 503 && before.body.contains("not in the consumer group"), "\(before)")

            worker.health.withLock { $0.joined = true; $0.assignedPartitions = 3 }
            #expect(try await HTTPProbe.get(port: port, "/readyz") == (200, "ready: 3 partitions assigned\n"))
            storeDown.withLock { $0 = true }
            let down = try await HTTPProbe.get(port: port, "/readyz")
            #expect(down.status == 503 && down.body.contains("store is unreachable"), "\(down)")
            storeDown.withLock { $0 = false }
            worker.health.withLock { $0.draining = true }
            let draining = try await HTTPProbe.get(port: port, "/readyz")
            #expect(draining.status == 503 && draining.body.hasPrefix("draining"), "\(draining)")

            metrics.command(type: "run", result: "applied", duration: .milliseconds(3))
            metrics.command(type: "resume", result: "rejected", duration: .milliseconds(40))
            let text = try await HTTPProbe.get(port: port, "/metrics")
            #expect(text.status == 200)
            for series in [
                #"interlude_commands_total{type="run",result="applied"} 1"#,
                #"interlude_commands_total{type="resume",result="rejected"} 1"#,
                #"interlude_command_duration_seconds_bucket{type="run",le="0.005"} 1"#,
                #"interlude_command_duration_seconds_count{type="resume"} 1"#,
                "interlude_outbox_pending 3.0", "interlude_interrupts_pending 2.0",
            ] {
                #expect(text.body.contains(series), "missing \(series) in:\n\(text.body)")
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test("INTERLUDE_HTTP_ADDRESS is parsed as host:port and a wrong value names the key")
    func address() throws {
        #expect(try WorkerHTTPServer.Configuration(address: "0.0.0.0:9464") == .init(host: "0.0.0.0", port: 9464))
        #expect(try WorkerHTTPServer.Configuration(address: "[::1]:0") == .init(host: "::1", port: 0))
        #expect(try WorkerHTTPServer.Configuration(address: ":8080") == .init(host: "0.0.0.0", port: 8080))
        #expect(throws: WorkerError.self) { try WorkerHTTPServer.Configuration(address: "localhost") }
        #expect(throws: WorkerError.self) { try WorkerDeployment(environment: ["INTERLUDE_DATABASE_URL": "postgres://x", "INTERLUDE_HTTP_ADDRESS": "host:99999"]) }
    }
}
