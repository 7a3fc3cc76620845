import Foundation

extension ReviewConsole {
    /// Where the console takes the reviewer's name (the actor) from.
    public enum IdentitySource: Sendable, Equatable, CustomStringConvertible {
        /// A header a trusted reverse proxy sets after it authenticated the user, such as
        /// `X-Forwarded-User`. A request without it is refused (401). Only safe when the
        /// console is reachable through that proxy alone.
        case header(String)
        /// Everyone is this actor: for `interlude dev` and a console bound to loopback.
        case fixed(String)

        /// How the page footer and the start-up line describe it.
        public var description: String {
            switch self {
            case .header(let name): "the \(name) header set by the reverse proxy"
            case .fixed(let actor): "the fixed development actor '\(actor)'"
            }
        }
    }

    /// Console settings; every property has a default.
    public struct Configuration: Sendable {
        /// The address to listen on. Default: `127.0.0.1`.
        public var host: String
        /// The port; 0 takes any free port (the running port is reported on start). Default: 8080.
        public var port: Int
        /// Where the actor comes from. Default: `.fixed("dev")`.
        public var identity: IdentitySource
        /// How often a followed thread's events are read from PostgreSQL. Default: 200 ms.
        public var pollInterval: Duration
        /// How long a page follows a run before it stops and asks for a reload. Default: 120 s.
        public var followTimeout: Duration
        /// Rows on the pending list at most. Default: 200.
        public var listLimit: Int

        /// Creates settings; see each property for its default.
        public init(
            host: String = "127.0.0.1", port: Int = 8080, identity: IdentitySource = .fixed("dev"),
            pollInterval: Duration = .milliseconds(200), followTimeout: Duration = .seconds(120), listLimit: Int = 200
        ) {
            self.host = host
            self.port = port
            self.identity = identity
            self.pollInterval = pollInterval
            self.followTimeout = followTimeout
            self.listLimit = listLimit
        }
    }
}
