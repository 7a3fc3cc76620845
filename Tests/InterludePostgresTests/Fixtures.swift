import Foundation
import Interlude
import InterludePostgres

/// Builders for commits, so tests state only what they are about.
enum Fixtures {
    static let graph = GraphIdentity(name: "test-graph", version: 1)
    /// Whole seconds plus a fraction that microsecond storage would lose.
    static let now = Date(timeIntervalSince1970: 1_800_000_000.123_456_789)

    static func checkpoint(
        _ id: CheckpointID, parent: CheckpointID? = nil, step: Int = 0, source: CheckpointSource = .loop,
        versions: [String: CheckpointID] = [:], seen: [String: [String: CheckpointID]] = [:],
        metadata: [String: JSONValue] = [:]
    ) -> Checkpoint {
        Checkpoint(
            id: id, parentID: parent, step: step, source: source, createdAt: now, graph: graph,
            channelVersions: versions, versionsSeen: seen, metadata: metadata)
    }

    static func json(_ value: JSONValue) -> Data { value.jsonData }

    static func commit(
        thread: String, expected: Int64, checkpoints: [NewCheckpoint], writes: [CheckpointWrites] = [],
        head: CheckpointID? = nil, status: ThreadStatus = .ready, interrupts: [InterruptRecord] = [],
        extras: CommitExtras = CommitExtras()
    ) -> StepCommit {
        StepCommit(
            threadID: thread, expectedVersion: expected, graph: graph, checkpoints: checkpoints, writes: writes,
            head: head ?? checkpoints.last!.checkpoint.id, status: status, interrupts: interrupts, extras: extras,
            committedAt: now)
    }

    /// A chain of `count` checkpoints on one thread, committed one per commit; returns the ids.
    static func linearThread(
        _ thread: String, count: Int, on checkpointer: any Checkpointer,
        metadata: (Int) -> [String: JSONValue] = { _ in [:] }
    ) async throws -> [CheckpointID] {
        var ids: [CheckpointID] = []
        var parent: CheckpointID?
        for step in 0..<count {
            let id = CheckpointID.next(after: parent)
            let blob = ChannelBlob(channel: "count", version: id, encoding: .full, depth: 0, data: json(.number(Double(step))))
            let cp = checkpoint(id, parent: parent, step: step, versions: ["count": id], metadata: metadata(step))
            _ = try await checkpointer.commit(
                commit(thread: thread, expected: Int64(step), checkpoints: [NewCheckpoint(checkpoint: cp, blobs: [blob])]))
            ids.append(id)
            parent = id
        }
        return ids
    }

    static func interrupt(
        _ id: String, thread: String, checkpoint: CheckpointID, status: InterruptStatus = .pending,
        deadline: Date? = nil, onTimeout: TimeoutAction? = nil
    ) -> InterruptRecord {
        InterruptRecord(
            id: id, threadID: thread, checkpointID: checkpoint, taskID: "task-\(id)", node: "ask",
            value: ["question": .string(id)], status: status, deadline: deadline, onTimeout: onTimeout,
            createdAt: now)
    }
}

/// Runs the InMemory reference and PostgreSQL side by side where a test compares them.
func makeCheckpointer(schema: String, poolSize: Int = 2) async throws -> PostgresCheckpointer {
    let checkpointer = try PostgresCheckpointer(
        configuration: .init(url: try TestDatabase.url(), schema: schema, poolSize: poolSize),
        logger: TestDatabase.logger)
    try await checkpointer.migrate()
    return checkpointer
}
