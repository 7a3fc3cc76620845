import Foundation

extension CompiledGraph {
    /// Ends a thread for good: its pending interrupts are cancelled and its status becomes
    /// `failed` with `reason` (for example `cancelled`, or a run parked after repeated
    /// failures). No checkpoint is added; new input may start the thread again.
    /// - Throws: `GraphError` `.threadNotFound` when the thread has no checkpoint,
    ///   `.threadVersionConflict` when it moved on meanwhile.
    public func fail(thread: String, reason: String, config: RunConfig = RunConfig()) async throws {
        let checkpointer = try requireCheckpointer("fail")
        guard let record = try await checkpointer.thread(thread), let head = record.head,
            let tuple = try await checkpointer.checkpoint(thread: thread, id: head)
        else {
            throw GraphError(.threadNotFound, "thread '\(thread)' has no checkpoint; nothing to end")
        }
        try checkIdentity(record)
        let run = Run(graph: self, threadID: thread, input: .proceed, config: config, mode: [])
        run.threadVersion = record.version
        try run.load(tuple)
        try await run.cancelPendingInterrupts()
        try await run.commitPending(status: .failed, failure: reason, isFinal: true)
    }
}
