import ArgumentParser
import Foundation
import Interlude
import InterludePostgres
import InterludeWorker

/// `--json` for the inspect commands.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON for scripts (the message contracts' field names) instead of a table.")
    var json = false
}

/// Writes inspect output straight to stdout (one write per call; never flushes other streams).
enum Output {
    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// JSON with sorted keys, indented.
    static func json(_ value: JSONValue) throws {
        write(try prettyJSON(value))
    }

    /// Left-aligned columns separated by two spaces; `(none)` when there are no rows.
    static func table(_ headers: [String], _ rows: [[String]]) -> String {
        guard !rows.isEmpty else { return "(none)" }
        let widths = headers.indices.map { column in ([headers] + rows).map { $0[column].count }.max() ?? 0 }
        return ([headers] + rows).map { row in
            row.enumerated().map { column, cell in column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func date(_ date: Date?) -> String { date.map(Timestamp.format) ?? "-" }

    /// An interrupt record with the `interrupt` event's field names.
    static func interruptJSON(_ record: InterruptRecord) -> JSONValue {
        [
            "interrupt_id": .string(record.id), "checkpoint_id": .string(record.checkpointID.description), "node": .string(record.node),
            "value": record.value, "status": .string(record.status.rawValue),
            "deadline": record.deadline.map { .string(Timestamp.format($0)) } ?? .null,
            "resolved_at": record.resolvedAt.map { .string(Timestamp.format($0)) } ?? .null,
            "resolved_by": record.resolvedBy.map { .string($0) } ?? .null,
        ]
    }

    /// Who answered, from a checkpoint's metadata (`actor`): `alice (finance)`, or `-`.
    static func actor(_ metadata: [String: JSONValue]) -> String {
        guard let actor = metadata["actor"].flatMap(ReviewActor.init(json:)) else { return "-" }
        return actor.roles.isEmpty ? actor.id : "\(actor.id) (\(actor.roles.joined(separator: ",")))"
    }
}

extension DeploymentEnvironment {
    /// Opens the deployment's PostgreSQL (checking the schema is there and current), runs
    /// `body`, closes it.
    func withStore<T>(_ body: (PostgresCheckpointer) async throws -> T) async throws -> T {
        let store = try checkpointer()
        defer { store.close() }
        try await store.verifySchema()
        return try await body(store)
    }

    /// The thread, or an error saying how to find thread ids.
    func requireThread(_ thread: String, in store: PostgresCheckpointer) async throws -> ThreadRecord {
        guard let record = try await store.thread(thread) else {
            throw DemoError("thread '\(thread)' does not exist in schema '\(databaseSchema)': check the id ('interlude threads' lists them) and INTERLUDE_DATABASE_SCHEMA")
        }
        return record
    }
}

/// `interlude threads`: the deployment's threads, newest first.
struct ThreadsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "threads", abstract: "List threads, most recently written first (INTERLUDE_DATABASE_URL, INTERLUDE_DATABASE_SCHEMA).")

    @Option(help: "Only threads with this status: ready, interrupted, completed or failed.")
    var status: String?

    @Option(help: "Only threads of this graph.")
    var graph: String?

    @Option(help: "At most this many. Default: 50.")
    var limit = 50

    @OptionGroup var output: OutputOptions

    func run() async throws {
        var wanted: ThreadStatus?
        if let status {
            guard let parsed = ThreadStatus(rawValue: status) else {
                throw DemoError("--status \(status) is not a thread status: use ready, interrupted, completed or failed")
            }
            wanted = parsed
        }
        guard limit >= 1 else { throw DemoError("--limit must be 1 or more") }
        let environment = try DeploymentEnvironment()
        let threads = try await environment.withStore { try await $0.threads(status: wanted, graph: graph, limit: limit) }
        if output.json {
            try Output.json(.array(threads.map { thread in
                [
                    "thread_id": .string(thread.threadID), "graph": .string(thread.graph.name), "graph_version": .number(Double(thread.graph.version)),
                    "status": .string(thread.status.rawValue), "pending_interrupts": .number(Double(thread.pendingInterrupts)),
                    "created_at": .string(Timestamp.format(thread.createdAt)), "updated_at": .string(Timestamp.format(thread.updatedAt)),
                    "failure_reason": thread.failureReason.map { .string($0) } ?? .null,
                ]
            }))
            return
        }
        Output.write(Output.table(
            ["THREAD", "GRAPH", "STATUS", "PENDING", "UPDATED", "REASON"],
            threads.map { [$0.threadID, "\($0.graph)", $0.status.rawValue, "\($0.pendingInterrupts)", Output.date($0.updatedAt), abbreviate($0.failureReason ?? "")] }))
    }
}

/// `interlude state THREAD`: values, next nodes and pending interrupts at the head.
struct StateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Show a thread's state: values, next nodes, pending interrupts with ids, values and deadlines.",
        discussion: "Reads PostgreSQL (INTERLUDE_DATABASE_URL, INTERLUDE_DATABASE_SCHEMA) through the thread's graph (getState). With `interlude dev` running, `set -a; . .interlude/dev.env` points it there.")

    @Argument(help: "The thread id.")
    var thread: String

    @OptionGroup var output: OutputOptions

    func run() async throws {
        let environment = try DeploymentEnvironment()
        try await environment.withStore { store in
            let record = try await environment.requireThread(thread, in: store)
            let all = try await store.interrupts(thread: thread)
            let pending = all.filter { $0.status == .pending }
            let answered = all.filter { $0.status == .resolved || $0.status == .expired }
            let graph = try ExampleRegistry.make(checkpointer: InMemoryCheckpointer()).graph(named: record.graph.name)
            let view = try await graph?.state(thread: thread, in: store)
            if output.json {
                var object: [String: JSONValue] = [
                    "thread_id": .string(thread), "graph": .string(record.graph.name), "graph_version": .number(Double(record.graph.version)),
                    "status": .string(record.status.rawValue), "version": .number(Double(record.version)),
                    "failure_reason": record.failureReason.map { .string($0) } ?? .null,
                    "checkpoint_id": record.head.map { .string($0.description) } ?? .null,
                    "updated_at": .string(Timestamp.format(record.updatedAt)),
                    "interrupts": .array(pending.map(Output.interruptJSON)),
                    "answered": .array(answered.map(Output.interruptJSON)),
                ]
                if let view {
                    object["metadata"] = .object(view.metadata)
                    object["values"] = view.values
                    object["next"] = .array(view.next.map { .string($0) })
                    object["step"] = .number(Double(view.step))
                }
                try Output.json(.object(object))
                return
            }
            var lines = [
                "thread      \(thread)", "graph       \(record.graph)", "status      \(record.status.rawValue)\(record.failureReason.map { " (\($0))" } ?? "")",
                "checkpoint  \(record.head?.description ?? "-")\(view.map { " (step \($0.step), \($0.source.rawValue))" } ?? "")",
                "updated     \(Output.date(record.updatedAt))",
            ]
            if let view {
                lines.append("next        \(view.next.isEmpty ? "(nothing: the run is over)" : view.next.joined(separator: ", "))")
                lines.append("values")
                lines.append(indent(try prettyJSON(view.values), by: 2))
            } else {
                lines.append("values      (graph '\(record.graph.name)' is not one this executable hosts: values and next nodes need the graph)")
            }
            lines.append("pending interrupts")
            lines.append(indent(Output.table(
                ["INTERRUPT", "NODE", "DEADLINE", "VALUE"],
                pending.map { [$0.id, $0.node, Output.date($0.deadline), abbreviate($0.value.description)] }), by: 2))
            lines.append("answered interrupts")
            lines.append(indent(Output.table(
                ["INTERRUPT", "NODE", "STATUS", "BY", "AT"],
                answered.map { [$0.id, $0.node, $0.status.rawValue, $0.resolvedBy ?? "-", Output.date($0.resolvedAt)] }), by: 2))
            Output.write(lines.joined(separator: "\n"))
        }
    }
}

/// `interlude history THREAD`: the thread's checkpoints, newest first.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history", abstract: "Show a thread's checkpoints, newest first (stateHistory; INTERLUDE_DATABASE_URL, INTERLUDE_DATABASE_SCHEMA).")

    @Argument(help: "The thread id.")
    var thread: String

    @Option(help: "At most this many checkpoints. Default: 20.")
    var limit = 20

    @OptionGroup var output: OutputOptions

    func run() async throws {
        guard limit >= 1 else { throw DemoError("--limit must be 1 or more") }
        let environment = try DeploymentEnvironment()
        try await environment.withStore { store in
            let record = try await environment.requireThread(thread, in: store)
            guard let graph = try ExampleRegistry.make(checkpointer: InMemoryCheckpointer()).graph(named: record.graph.name) else {
                throw DemoError("thread '\(thread)' belongs to graph '\(record.graph.name)', which this executable does not host: its history needs the graph (run the history from the executable that registers it)")
            }
            let views = try await graph.history(thread: thread, limit: limit, in: store)
            if output.json {
                try Output.json(.array(views.map(\.json)))
                return
            }
            Output.write(Output.table(
                ["CHECKPOINT", "STEP", "SOURCE", "CREATED", "ACTOR", "NEXT", "INTERRUPTS"],
                views.map {
                    [$0.checkpointID.description, "\($0.step)", $0.source.rawValue, Output.date($0.createdAt), Output.actor($0.metadata), $0.next.joined(separator: ","), $0.interrupts.map(\.id).joined(separator: ",")]
                }))
        }
    }
}
