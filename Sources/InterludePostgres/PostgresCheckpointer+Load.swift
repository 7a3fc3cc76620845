import Foundation
import Interlude

extension PostgresCheckpointer {
    /// The record, a checkpoint (or the head) with its blobs and writes, and the interrupts of a
    /// thread, in one round trip: five statements in one libpq pipeline.
    public func load(thread threadID: String, checkpointID: CheckpointID?) async throws -> ThreadSnapshot? {
        try await storage("load thread '\(threadID)'") {
            let thread = PostgresValue.text(threadID)
            let id = PostgresValue.uuid(checkpointID)
            let ids = Self.checkpointOrHead(checkpointID)
            let results = try await pool.withConnection { connection in
                try await connection.pipeline([
                    (Statements.thread, [thread]),
                    (Statements.checkpoint, [thread, id]),
                    (Statements.blobs, [thread, ids]),
                    (Statements.writes, [thread, ids]),
                    (Statements.interrupts, [thread]),
                ])
            }
            guard let row = results[0].first else { return nil }
            let record = try Self.decodeThread(threadID, row)
            let tuple = try results[1].first.map { try Self.tuple(try Self.decodeCheckpoint($0), blobRows: results[2], writeRows: results[3]) }
            return ThreadSnapshot(record: record, tuple: tuple, interrupts: try results[4].map(Self.decodeInterrupt))
        }
    }

    /// Columns of the thread statement: version, head, status, failure_reason, graph_name,
    /// graph_version, updated_at.
    static func decodeThread(_ threadID: String, _ row: PostgresRow) throws -> ThreadRecord {
        ThreadRecord(
            threadID: threadID, version: try row.decode(at: 0), head: try row.decode(at: 1),
            status: try decodeEnum(ThreadStatus.self, row, 2), failureReason: try row.decode(at: 3),
            graph: GraphIdentity(name: try row.decode(at: 4), version: try row.decode(at: 5)),
            updatedAt: Date(timeIntervalSince1970: try row.decode(at: 6)))
    }

    /// The `checkpoint_id` array parameter of the blobs and writes statements: the one id, or
    /// NULL for the thread's head.
    static func checkpointOrHead(_ id: CheckpointID?) -> PostgresValue {
        id.map { .uuidArray([$0]) } ?? PostgresValue(oid: OID.arrayType(of: OID.uuid), bytes: nil)
    }

    /// A checkpoint with the blob rows of its chains and its write rows (columns of the
    /// blobs and writes statements).
    static func tuple(_ checkpoint: Checkpoint, blobRows: some Sequence<PostgresRow>, writeRows: some Sequence<PostgresRow>) throws -> CheckpointTuple {
        var blobs: [BlobKey: ChannelBlob] = [:]
        for row in blobRows {
            let blob = try decodeBlob(row)
            blobs[BlobKey(channel: blob.channel, version: blob.version)] = blob
        }
        return CheckpointTuple(checkpoint: checkpoint, blobs: chain(of: checkpoint, in: blobs), pendingWrites: try writeRows.map(decodeWrite))
    }

    /// The blobs a checkpoint needs: for each channel version, its blob and the blobs down
    /// its delta chain (by channel name, then down each chain).
    static func chain(of checkpoint: Checkpoint, in blobs: [BlobKey: ChannelBlob]) -> [ChannelBlob] {
        var chain: [ChannelBlob] = []
        for (channel, version) in checkpoint.channelVersions.sorted(by: { $0.key < $1.key }) {
            var key = BlobKey(channel: channel, version: version)
            while let blob = blobs[key] {
                chain.append(blob)
                guard let base = blob.base else { break }
                key = BlobKey(channel: channel, version: base)
            }
        }
        return chain
    }

    /// Columns: checkpoint_id, task_id, idx, node, channel, value.
    static func decodeWrite(_ row: PostgresRow) throws -> PendingWrite {
        PendingWrite(
            taskID: try row.decode(at: 1), node: try row.decode(at: 3), index: try row.decode(at: 2),
            channel: try row.decode(at: 4), value: try row.decode(at: 5))
    }
}
