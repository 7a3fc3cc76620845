import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// The worker's HTTP endpoints, a `Service` to run in the worker's `ServiceGroup`:
///
/// - `GET /healthz`: 200 `ok` while the process serves requests (liveness).
/// - `GET /readyz`: 200 `ready: N partitions assigned` when the worker joined its consumer
///   group (it got an assignment, possibly empty), its store answers and it is not draining;
///   otherwise 503 with the reason on one line (readiness).
/// - `GET /metrics`: the Prometheus text format of the worker's registry, with the store
///   gauges and the consumer lag sampled for this scrape.
///
/// List it before the ``Worker`` in the group: services stop in reverse order, so the
/// endpoints keep answering (`/readyz` says `draining`) while the worker drains.
public struct WorkerHTTPServer: Service {
    /// Where to listen.
    public struct Configuration: Sendable, Equatable {
        /// The host or address to bind. Default: `127.0.0.1`.
        public var host: String
        /// The port; 0 picks any free port (see `onBound`). Default: 9464.
        public var port: Int

        /// Creates a configuration.
        public init(host: String = "127.0.0.1", port: Int = 9464) {
            self.host = host
            self.port = port
        }

        /// Parses `host:port` (`[::1]:9464` for IPv6).
        /// - Throws: ``WorkerError`` `.invalidConfiguration` naming `key` and the expected form.
        public init(address: String, key: String = "INTERLUDE_HTTP_ADDRESS") throws {
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else {
                throw WorkerError(.invalidConfiguration, "\(key)=\(address) is not host:port: give for example 0.0.0.0:9464, or 127.0.0.1:0 for any free port")
            }
            var host = String(address[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            self.init(host: host.isEmpty ? "0.0.0.0" : host, port: port)
        }
    }

    /// What the endpoints read.
    public struct Probes: Sendable {
        /// The worker whose status `/readyz` reports.
        public var worker: Worker
        /// Throws when the store cannot be reached. Default: always reachable.
        public var checkStore: @Sendable () async throws -> Void = {}
        /// Updates gauges before `/metrics` answers (store counts, consumer lag); failures
        /// are logged and the previous values are served. Default: nothing.
        public var sample: @Sendable () async throws -> Void = {}

        /// Creates probes for `worker`.
        public init(worker: Worker, checkStore: @escaping @Sendable () async throws -> Void = {}, sample: @escaping @Sendable () async throws -> Void = {}) {
            self.worker = worker
            self.checkStore = checkStore
            self.sample = sample
        }
    }

    let configuration: Configuration
    let registry: PrometheusCollectorRegistry
    let probes: Probes
    let logger: Logger
    let onBound: @Sendable (Int) -> Void

    /// Creates the server.
    /// - Parameters:
    ///   - registry: The registry `/metrics` serves (give the same one to the worker's
    ///     ``WorkerMetrics`` through a `PrometheusMetricsFactory`).
    ///   - onBound: Called with the port once listening (useful with port 0). Default: nothing.
    public init(configuration: Configuration, registry: PrometheusCollectorRegistry, probes: Probes, logger: Logger, onBound: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.configuration = configuration
        self.registry = registry
        self.probes = probes
        self.logger = logger
        self.onBound = onBound
    }

    /// Serves until graceful shutdown or cancellation.
    public func run() async throws {
        let router = Router()
        let probes = self.probes
        let registry = self.registry
        let logger = self.logger
        router.get("healthz") { _, _ in Self.text(.ok, "ok") }
        router.get("readyz") { _, _ in
            if let reason = await Self.notReadyReason(probes) { return Self.text(.serviceUnavailable, reason) }
            return Self.text(.ok, "ready: \(probes.worker.status.assignedPartitions) partitions assigned")
        }
        router.get("metrics") { _, _ in
            do { try await probes.sample() } catch {
                logger.warning("sampling metrics failed; serving the previous values", metadata: ["error": "\(error)"])
            }
            var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
            response.headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return response
        }
        let onBound = self.onBound
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("metrics and health endpoints listening", metadata: ["http.port": "\(port)"])
                onBound(port)
            },
            logger: logger)
        try await app.run()
    }

    /// Why the worker is not ready, or `nil` when it is.
    static func notReadyReason(_ probes: Probes) async -> String? {
        let status = probes.worker.status
        if status.draining { return "draining: graceful shutdown began" }
        if !status.joined { return "not in the consumer group yet: no partition assignment received" }
        if let failing = status.failing { return "commands are failing: \(failing)" }
        do { try await probes.checkStore() } catch { return "the store is unreachable: \(error)" }
        return nil
    }

    static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        var response = Response(status: status, body: .init(byteBuffer: ByteBuffer(string: body + "\n")))
        response.headers[.contentType] = "text/plain; charset=utf-8"
        return response
    }
}
