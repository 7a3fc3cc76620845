import Dispatch
import Foundation
import InterludeKafka
import Logging
import Synchronization

/// One ordered queue of messages per partition, so a thread's commands apply in order while
/// partitions proceed in parallel, with the partition's ownership tracked in epochs.
///
/// - A lane hands its owner batches: the longest run of queued messages at the head of the
///   queue whose keys (thread ids) are all different, so a batch never holds two commands of
///   one thread and its offsets are contiguous.
/// - Every assignment and every loss of a partition starts a new epoch. A batch is stamped
///   with the epoch it was taken in; its offsets are stored only if the partition is still
///   owned in that epoch. Revoking or losing a partition drops its queued messages (their
///   offsets are never stored, so the next owner gets them).
/// - An orderly revocation waits (bounded) for the partition's batch in flight to finish and
///   store its offsets before the partition is handed over, so the next owner never re-runs a
///   step this worker committed. A lost partition is not waited for: its new owner may
///   already run, and the thread version fences this worker's late commit.
/// - A partition has at most one lane, for the consumer's whole life: a partition that comes
///   back reuses it, so two lanes never drain one partition.
/// - A queue that fills pauses its partition (the consumer keeps polling, so a long step never
///   gets the worker evicted); it resumes at half. Pause state is cleared on (re)assignment.
final class Lanes: Sendable {
    /// A batch of one partition, stamped with the epoch it was taken in.
    struct Batch: Sendable {
        var partition: TopicPartition
        var epoch: UInt64
        var messages: [KafkaMessage]
    }

    private struct Lane {
        var queue: [KafkaMessage] = []
        var epoch: UInt64 = 0
        var assigned = false
        var busy = false
        var paused = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private struct State {
        var lanes: [TopicPartition: Lane] = [:]
        var draining = false
        var closed = false
        /// Signalled whenever a batch finishes, for a revocation waiting on the polling thread.
        var finishSignal: DispatchSemaphore?

        var anyBusy: Bool { lanes.values.contains { $0.busy } }
    }

    private let state = Mutex(State())
    private let buffer: Int
    private let maxBatch: Int
    private let consumer: KafkaConsumer
    private let logger: Logger

    init(buffer: Int, maxBatch: Int, consumer: KafkaConsumer, logger: Logger) {
        self.buffer = max(1, buffer)
        self.maxBatch = max(1, maxBatch)
        self.consumer = consumer
        self.logger = logger
    }

    // MARK: Ownership (consumer events and the rebalance callback)

    /// The partitions were assigned: a new epoch each, and any pause left over is cleared.
    /// - Returns: The partitions that have no lane task yet (the caller starts one each).
    func assign(_ partitions: [TopicPartition]) -> [TopicPartition] {
        let fresh = state.withLock { state -> [TopicPartition] in
            var fresh: [TopicPartition] = []
            for partition in partitions {
                if state.lanes[partition] == nil {
                    state.lanes[partition] = Lane()
                    fresh.append(partition)
                }
                state.lanes[partition]!.epoch += 1
                state.lanes[partition]!.assigned = true
                state.lanes[partition]!.queue = []
                state.lanes[partition]!.paused = false
            }
            return fresh
        }
        do { try consumer.resume(partitions) } catch { logger.debug("clearing the pause of assigned partitions failed", metadata: ["error": "\(error)"]) }
        return fresh
    }

    /// The partitions are being taken away; runs on the consumer's polling thread before they
    /// are unassigned. Queued messages are dropped. For an orderly revocation this waits, at
    /// most `timeout`, until their batches in flight finished and stored their offsets.
    func revoke(_ partitions: [TopicPartition], lost: Bool, timeout: Duration) {
        let signal = DispatchSemaphore(value: 0)
        let waitFor = state.withLock { state -> [TopicPartition] in
            var busy: [TopicPartition] = []
            for partition in partitions where state.lanes[partition] != nil {
                state.lanes[partition]!.queue = []
                state.lanes[partition]!.paused = false
                if lost || !state.lanes[partition]!.busy {
                    state.lanes[partition]!.epoch += 1
                    state.lanes[partition]!.assigned = false
                } else {
                    busy.append(partition)
                }
            }
            if !busy.isEmpty { state.finishSignal = signal }
            return busy
        }
        guard !waitFor.isEmpty else { return }
        logger.info("waiting for in-flight commands of revoked partitions", metadata: ["kafka.partitions": "\(waitFor)"])
        let deadline = DispatchTime.now() + .milliseconds(Int(timeout.wholeMilliseconds))
        while state.withLock({ state in waitFor.contains { state.lanes[$0]!.busy } }) {
            if signal.wait(timeout: deadline) == .timedOut {
                logger.warning("revoked partitions still busy after \(timeout); handing them over (their late commits lose the version check)", metadata: ["kafka.partitions": "\(waitFor)"])
                break
            }
        }
        state.withLock { state in
            state.finishSignal = nil
            for partition in waitFor {
                state.lanes[partition]!.epoch += 1
                state.lanes[partition]!.assigned = false
            }
        }
    }

    // MARK: Intake

    /// Queues a message on its partition's lane; drops it when the partition is not owned
    /// (a message fetched before a revocation) or the worker is draining.
    func route(_ message: KafkaMessage) {
        let partition = message.topicPartition
        let (waiter, pause) = state.withLock { state -> (CheckedContinuation<Void, Never>?, Bool) in
            guard !state.draining, state.lanes[partition]?.assigned == true else { return (nil, false) }
            // In place: a copy of the lane would copy its queue on every message.
            return Self.modify(&state.lanes[partition]!) { lane in
                lane.queue.append(message)
                let pause = lane.queue.count >= buffer && !lane.paused
                if pause { lane.paused = true }
                let waiter = lane.waiter
                lane.waiter = nil
                return (waiter, pause)
            }
        }
        waiter?.resume()
        if pause {
            do { try consumer.pause([partition]) } catch { logger.warning("pause failed", metadata: ["error": "\(error)"]) }
        }
    }

    // MARK: Lane tasks

    /// The next batch of `partition`, waiting for messages; `nil` when the lane is done
    /// (the worker drains or closes).
    func nextBatch(_ partition: TopicPartition) async -> Batch? {
        while true {
            enum Step { case batch(Batch), wait, end }
            let step = state.withLock { state -> Step in
                guard state.lanes[partition] != nil else { return .end }
                if state.closed || state.draining { return .end }
                let maxBatch = self.maxBatch
                return Self.modify(&state.lanes[partition]!) { lane -> Step in
                    guard lane.assigned, !lane.queue.isEmpty else { return .wait }
                    var keys = Set<[UInt8]>()
                    var count = 0
                    for message in lane.queue.prefix(maxBatch) {
                        guard let key = message.key else {
                            if count == 0 { count = 1 }
                            break
                        }
                        guard keys.insert(key).inserted else { break }
                        count += 1
                    }
                    let messages = Array(lane.queue.prefix(count))
                    lane.queue.removeFirst(count)
                    lane.busy = true
                    return .batch(Batch(partition: partition, epoch: lane.epoch, messages: messages))
                }
            }
            switch step {
            case .batch(let batch): return batch
            case .end: return nil
            case .wait:
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let ready = state.withLock { state -> Bool in
                        guard let lane = state.lanes[partition], !state.closed, !state.draining, !(lane.assigned && !lane.queue.isEmpty) else { return true }
                        state.lanes[partition]!.waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            }
        }
    }

    /// A batch is done. When `completed` and the partition is still owned in the batch's
    /// epoch, stores the offset after its last message (the batch's work is durable, or its
    /// bad messages are dead-lettered). Resumes a paused partition whose queue drained.
    func finish(_ batch: Batch, completed: Bool) {
        let partition = batch.partition
        let (store, resume, signal) = state.withLock { state -> (Bool, Bool, DispatchSemaphore?) in
            guard state.lanes[partition] != nil else { return (false, false, nil) }
            let buffer = self.buffer
            let (store, resume) = Self.modify(&state.lanes[partition]!) { lane -> (Bool, Bool) in
                lane.busy = false
                let store = completed && lane.epoch == batch.epoch && lane.assigned
                let resume = lane.paused && lane.queue.count <= buffer / 2
                if resume { lane.paused = false }
                return (store, resume)
            }
            return (store, resume, state.finishSignal)
        }
        if store, let last = batch.messages.last {
            do { try consumer.storeOffset(of: last) } catch {
                // Taken away meanwhile: its new owner redelivers, and the ledger makes that harmless.
                logger.debug("offset not stored", metadata: ["kafka.topic": "\(last.topic)", "kafka.partition": "\(last.partition)", "error": "\(error)"])
            }
        }
        if resume {
            do { try consumer.resume([partition]) } catch { logger.warning("resume failed", metadata: ["error": "\(error)"]) }
        }
        signal?.signal()
    }

    // MARK: Shutdown

    /// Stops intake: queued messages are dropped (unacknowledged, for the next owner) and lanes
    /// end once their batch in flight finished.
    func stopIntake() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.draining = true
            var waiters: [CheckedContinuation<Void, Never>] = []
            for key in state.lanes.keys {
                state.lanes[key]!.queue = []
                if let waiter = state.lanes[key]!.waiter { waiters.append(waiter) }
                state.lanes[key]!.waiter = nil
            }
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Ends every lane (after its batch in flight).
    func closeAll() {
        stopIntake()
        state.withLock { $0.closed = true }
    }

    /// Runs `body` on a lane in place (no copy of its queue).
    private static func modify<T>(_ lane: inout Lane, _ body: (inout Lane) -> T) -> T { body(&lane) }

    /// `true` while a batch is in flight.
    var isBusy: Bool { state.withLock { $0.anyBusy } }
}
