import Foundation
import Interlude
import InterludePostgres
import Logging
import Testing

extension Tag {
    @Tag static var engine: Self
    @Tag static var conformance: Self
}

/// Every checkpointer the shared behaviour suite runs against.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory
    case postgres

    var testDescription: String { rawValue }

    /// A fresh, empty checkpointer of this kind: for PostgreSQL, a new schema on the server
    /// `scripts/with-test-postgres.sh` started (its URL is in `INTERLUDE_TEST_DATABASE_URL`).
    func make() async throws -> any Checkpointer {
        switch self {
        case .memory:
            return InMemoryCheckpointer()
        case .postgres:
            guard let url = ProcessInfo.processInfo.environment["INTERLUDE_TEST_DATABASE_URL"], !url.isEmpty else {
                throw BackendUnavailable()
            }
            let schema = "conf_\(UInt32.random(in: 0...UInt32.max))"
            // One connection: a run uses the checkpointer from one task at a time, and many
            // tests run at once against a server with 100 connection slots.
            let checkpointer = try PostgresCheckpointer(configuration: .init(url: url, schema: schema, poolSize: 1), logger: Logger(label: "conformance"))
            try await checkpointer.migrate()
            return checkpointer
        }
    }
}

struct BackendUnavailable: Error, CustomStringConvertible {
    var description: String {
        "INTERLUDE_TEST_DATABASE_URL is not set: run the suite through `make test` or `scripts/with-test-postgres.sh swift test --disable-xctest`, which start a throwaway PostgreSQL"
    }
}

/// A state with one append list, the `v` of CONFORMANCE.md.
struct ListState: GraphState, Equatable {
    var v: [String] = []
    static let channels: [Channel<ListState>] = [.append("v", \.v)]
}

/// A counter shared by the nodes of one test, to count how often each ran.
final class RunCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    func hit(_ name: String) { counts.withLock { $0[name, default: 0] += 1 } }
    subscript(_ name: String) -> Int { counts.withLock { $0[name] ?? 0 } }
}

import Synchronization

/// A fresh thread id per test.
func newThread() -> String { "t-" + UUID().uuidString.lowercased() }

/// Re-checks the in-memory checkpointer's rule that saved checkpoints never change.
func verifyIntegrity(_ checkpointer: any Checkpointer) async throws {
    if let memory = checkpointer as? InMemoryCheckpointer { try memory.verifyIntegrity() }
}

/// A graph with a checkpointer of the given kind, built by `build`, for tests that also
/// need the checkpointer itself.
struct Harness<State: GraphState> {
    let app: CompiledGraph<State>
    let checkpointer: any Checkpointer

    init(
        _ backend: Backend, interruptBefore: [String] = [], interruptAfter: [String] = [],
        clock: any GraphClock = SystemClock(), build: (inout StateGraph<State>) -> Void
    ) async throws {
        var graph = StateGraph<State>()
        build(&graph)
        checkpointer = try await backend.make()
        app = try graph.compile(checkpointer: checkpointer, interruptBefore: interruptBefore, interruptAfter: interruptAfter, clock: clock)
    }

    /// Every checkpoint of the thread, newest first.
    func history(_ thread: String) async throws -> [StateSnapshot<State>] {
        try await app.stateHistory(thread: thread)
    }

    /// The head snapshot, which must exist.
    func state(_ thread: String) async throws -> StateSnapshot<State> {
        try #require(try await app.getState(thread: thread))
    }
}

/// A node body that appends its name to `v`, counting the run.
func appendName(_ name: String, _ counter: RunCounter) -> @Sendable (ListState) async throws -> Command<ListState> {
    { _ in counter.hit(name); return .update(\.v, [name]) }
}

/// A node body that asks `question` and appends "name:answer".
func askAndAppend(_ name: String, _ question: String, _ counter: RunCounter) -> @Sendable (ListState) async throws -> Command<ListState> {
    { _ in
        counter.hit(name)
        let answer: String = try await interrupt(question)
        return .update(\.v, ["\(name):\(answer)"])
    }
}

/// Adds a chain START -> names[0] -> ... -> END of nodes appending their names.
func addChain(_ graph: inout StateGraph<ListState>, _ names: [String], _ counter: RunCounter) {
    for name in names { graph.addNode(name, appendName(name, counter)) }
    var previous = START
    for name in names {
        graph.addEdge(previous, name)
        previous = name
    }
    graph.addEdge(previous, END)
}
