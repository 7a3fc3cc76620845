import Foundation

extension CompiledGraph {
    /// Ends a thread for good: its pending interrupts are cancelled and its status becomes
    /// `failed` with `reason` (for example `cancelled`, or a run parked after repeated
    /// failures). No checkpoint is added; new input may start the thread again.
    /// - Throws: `GraphError` `.threadNotFound` when the thread has no checkpoint,
    ///   `.threadVersionConflict` when it moved on meanwhile.
    public func fail(thread: String, reason: String, config: RunConfig = RunConfig()) async throws {
        _ = try await end(thread: thread, reason: reason, expiring: [], at: clock.now, config: config)
    }

    /// Ends a thread `failed` with `reason` in one commit: pending interrupts named in
    /// `expiring` become expired, the others cancelled.
    /// - Returns: How the thread was left.
    func end(thread: String, reason: String, expiring: Set<String>, at date: Date, config: RunConfig) async throws -> RunResult<State> {
        let checkpointer = try requireCheckpointer("ending a thread")
        guard let snapshot = try await checkpointer.load(thread: thread, checkpointID: nil), let tuple = snapshot.tuple else {
            throw GraphError(.threadNotFound, "thread '\(thread)' has no checkpoint; nothing to end")
        }
        try checkIdentity(snapshot.record)
        let run = Run(graph: self, threadID: thread, input: .proceed, config: config, mode: [])
        run.threadVersion = snapshot.record.version
        try run.load(tuple)
        for var interrupt in snapshot.interrupts where interrupt.status == .pending {
            interrupt.status = expiring.contains(interrupt.id) ? .expired : .cancelled
            interrupt.resolvedAt = date
            interrupt.resolvedBy = config.actor ?? "superseded"
            run.stage(interrupt)
        }
        try await run.commitPending(status: .failed, failure: reason, isFinal: true)
        return RunResult(values: run.values, interrupts: [], next: [], checkpointID: tuple.checkpoint.id, status: .failed, failureReason: reason)
    }
}
