import ArgumentParser
import Foundation
import InterludeConsole
import InterludeKafka
import InterludeWorker
import Logging

/// `interlude console`: the web review console.
struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Serve the web review console: pending questions, thread pages and answers in the browser.",
        discussion: """
            Reads PostgreSQL (INTERLUDE_DATABASE_URL, INTERLUDE_DATABASE_SCHEMA) and publishes resume \
            commands to Kafka (INTERLUDE_KAFKA_BOOTSTRAP_SERVERS, INTERLUDE_TOPIC_PREFIX). Listens on \
            INTERLUDE_CONSOLE_ADDRESS (default 127.0.0.1:8080; port 0 takes a free port). The reviewer is \
            the INTERLUDE_CONSOLE_ACTOR_HEADER header set by a reverse proxy, or else the fixed \
            INTERLUDE_CONSOLE_DEV_ACTOR (default dev). See docs/review-console.md.
            """
    )

    func run() async throws {
        let environment = try DeploymentEnvironment()
        let settings = try ConsoleEnvironment(ProcessInfo.processInfo.environment)
        let logger = makeLogger("interlude.console")
        let checkpointer = try environment.checkpointer()
        defer { checkpointer.close() }
        try await checkpointer.verifySchema()
        let producer = try KafkaProducer(configuration: environment.producerConfiguration(), logger: logger)
        let client = CommandClient(producer: producer, topics: environment.topics)
        do {
            try await client.warm()
        } catch {
            logger.warning("could not look up the command topics yet; the first answer may wait for it", metadata: ["error": "\(error)"])
        }
        if case .fixed(let actor) = settings.configuration.identity, !["127.0.0.1", "::1", "localhost"].contains(settings.configuration.host) {
            logger.warning("the console listens on \(settings.configuration.host) and everyone who reaches it answers as '\(actor)'; set INTERLUDE_CONSOLE_ACTOR_HEADER behind a reverse proxy")
        }
        let console = ReviewConsole(configuration: settings.configuration, checkpointer: checkpointer, commands: client, logger: logger)
        let identity = settings.configuration.identity
        let application = console.makeApplication { url in
            FileHandle.standardOutput.write(Data("interlude console: listening on \(url) (reviewer: \(identity))\n".utf8))
        }
        do {
            try await application.runService()
        } catch {
            await producer.close()
            throw error
        }
        await producer.close()
    }
}

/// The console's keys of the environment (docs/configuration.md).
struct ConsoleEnvironment {
    /// The settings they give.
    var configuration = ReviewConsole.Configuration()

    init(_ environment: [String: String]) throws {
        if let address = environment["INTERLUDE_CONSOLE_ADDRESS"], !address.isEmpty {
            let (host, port) = try Self.address(address)
            configuration.host = host
            configuration.port = port
        }
        if let header = environment["INTERLUDE_CONSOLE_ACTOR_HEADER"], !header.isEmpty {
            guard header.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }) else {
                throw DemoError("INTERLUDE_CONSOLE_ACTOR_HEADER=\(header) is not a header name; give one such as X-Forwarded-User")
            }
            configuration.identity = .header(header)
        } else {
            configuration.identity = .fixed(environment["INTERLUDE_CONSOLE_DEV_ACTOR"].flatMap { $0.isEmpty ? nil : $0 } ?? "dev")
        }
    }

    /// `host:port`, `[v6]:port` or `:port` (127.0.0.1).
    static func address(_ text: String) throws -> (String, Int) {
        let bad = DemoError("INTERLUDE_CONSOLE_ADDRESS=\(text) is not host:port; give one such as 127.0.0.1:8080 (port 0 takes a free port)")
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { throw bad }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "127.0.0.1" : host, port)
    }
}

/// The review console of `interlude dev`: `interlude console` in a child process with the dev
/// stack's settings, its output in `console.log` of the state folder.
final class DevConsole: Sendable {
    let child: ChildProcess
    /// Where the console listens, such as `http://127.0.0.1:8080/`.
    let url: String

    private init(child: ChildProcess, url: String) {
        self.child = child
        self.url = url
    }

    /// Starts the console and waits (at most 30 s) until it listens. The address is
    /// INTERLUDE_CONSOLE_ADDRESS from the environment, else 127.0.0.1:8080 when that port is
    /// free, else any free port of 127.0.0.1 (another `interlude dev` may hold 8080).
    static func start(settings: [String: String], logDirectory: URL) async throws -> DevConsole {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        var environment = ProcessInfo.processInfo.environment.merging(settings) { _, new in new }
        if environment["INTERLUDE_CONSOLE_ADDRESS"]?.isEmpty ?? true {
            environment["INTERLUDE_CONSOLE_ADDRESS"] = canBind(port: 8080) ? "127.0.0.1:8080" : "127.0.0.1:0"
        }
        let log = logDirectory.appendingPathComponent("console.log")
        try? FileManager.default.removeItem(at: log)
        let child = try ChildProcess(executable: executable, arguments: ["console"], environment: environment, output: log.path)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("interlude console: listening on ") }),
                let url = line.split(separator: " ").first(where: { $0.hasPrefix("http://") })
            {
                return DevConsole(child: child, url: String(url))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        child.terminate()
        _ = await child.wait()
        let tail = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").suffix(10).joined(separator: "\n")
        throw DemoError("the review console did not start within 30 s (is \(environment["INTERLUDE_CONSOLE_ADDRESS"]!) in use? set INTERLUDE_CONSOLE_ADDRESS). Its log:\n\(tail)")
    }

    /// Whether a TCP socket can bind 127.0.0.1:`port` right now.
    private static func canBind(port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// SIGTERM, then waits for it to leave.
    func stop() async {
        child.terminate()
        _ = await child.wait()
    }
}
