import Foundation
import Hummingbird
import Interlude
import InterludePostgres
import InterludeWorker
import Logging

/// The web review console: pending interrupts across threads, a page per thread with its
/// state, questions and timeline, and answers published as resume commands.
///
/// Everything shown is read from PostgreSQL (the source of truth); an answer goes out through
/// a ``CommandClient`` over a long-lived producer, and the thread page then follows the run
/// by reading the thread's events from the outbox table until it pauses again or ends.
///
/// ```swift
/// let console = ReviewConsole(configuration: .init(port: 8080), checkpointer: store, commands: client)
/// try await console.makeApplication { url in print("console at \(url)") }.runService()
/// ```
public struct ReviewConsole: Sendable {
    /// The settings.
    public let configuration: Configuration
    let checkpointer: PostgresCheckpointer
    let commands: CommandClient
    let logger: Logger

    /// Creates a console.
    /// - Parameters:
    ///   - configuration: The settings.
    ///   - checkpointer: The deployment's PostgreSQL store (read, never written).
    ///   - commands: Publishes the resume commands.
    ///   - logger: Default: label `interlude.console`.
    public init(configuration: Configuration, checkpointer: PostgresCheckpointer, commands: CommandClient, logger: Logger = Logger(label: "interlude.console")) {
        self.configuration = configuration
        self.checkpointer = checkpointer
        self.commands = commands
        self.logger = logger
    }

    /// The HTTP application; run it with `runService()` (it stops on SIGTERM and SIGINT) or
    /// inside a `ServiceGroup`.
    /// - Parameter onListening: Called with the console's URL (`http://host:port/`) once it
    ///   accepts connections.
    public func makeApplication(onListening: @escaping @Sendable (String) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router(context: BasicRequestContext.self)
        let routes = ConsoleRoutes(console: self)
        router.get("/") { request, _ in await routes.respond(request) { try await routes.pending(request, $0) } }
        router.get("/thread") { request, _ in await routes.respond(request) { try await routes.thread(request, $0) } }
        router.post("/thread/answer") { request, _ in await routes.respond(request) { try await routes.answer(request, $0) } }
        router.get("/thread/events") { request, _ in await routes.respond(request) { try await routes.events(request, $0) } }
        let host = configuration.host
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "interlude-console"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                await onListening("http://\(host.contains(":") ? "[\(host)]" : host):\(port)/")
            },
            logger: logger)
    }
}
