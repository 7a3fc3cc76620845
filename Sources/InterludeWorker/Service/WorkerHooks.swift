/// Named points in a worker's processing where tests inject faults.
///
/// The end-to-end tests start a worker that calls `_exit` when it reaches one of these, to
/// prove that no crash at that point loses, doubles or stalls a run. Production workers set
/// no hook.
public enum WorkerPoint: String, Sendable, CaseIterable {
    /// A batch or command committed to the store; its events are not yet handed to Kafka and
    /// its offsets not stored.
    case afterCommit = "after_commit"
    /// A node failed and the failure was committed (the command's ledger entry is `started`);
    /// the retry has not begun.
    case afterFailureCommit = "after_failure_commit"
    /// An `update_state` with `continue` committed the edit; the run has not continued.
    case betweenUpdateAndContinue = "between_update_and_continue"
    /// Outbox rows were delivered to Kafka and are not yet marked published.
    case afterPublish = "after_publish"
    /// Some commands of a batch are settled and the commands left to process on their own
    /// are not.
    case midBatch = "mid_batch"
}

/// Test hooks of a worker. Default: none.
public struct WorkerHooks: Sendable {
    /// Called each time processing reaches a ``WorkerPoint``.
    public var point: (@Sendable (WorkerPoint) -> Void)?

    /// No hooks.
    public init(point: (@Sendable (WorkerPoint) -> Void)? = nil) {
        self.point = point
    }

    func reached(_ point: WorkerPoint) { self.point?(point) }
}
