import Synchronization

/// Matches librdkafka delivery reports to the `send` calls awaiting them.
///
/// Each produced message carries a numeric id as its per-message opaque; the delivery-report
/// callback (on the producer's polling thread) completes the matching slot of its batch and
/// calls the batch's waiter when the last slot is filled, always outside the lock.
final class ProducerDeliveryTracker: Sendable {
    typealias Outcome = Result<DeliveryReport, KafkaError>
    /// Called once with every outcome of a batch (on the producer's polling thread, or on the
    /// sending thread when the producer is closed).
    typealias Waiter = @Sendable ([Outcome]) -> Void

    private struct Batch {
        var outcomes: [Outcome?]
        var remaining: Int
        let waiter: Waiter
    }

    private struct State {
        var nextMessageID: UInt = 1
        var nextBatchID: UInt = 1
        var messages: [UInt: (batch: UInt, index: Int)] = [:]
        var batches: [UInt: Batch] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    /// Registers a batch of `count` messages; returns its id, or nil when closed.
    func beginBatch(count: Int, waiter: @escaping Waiter) -> UInt? {
        state.withLock { state in
            guard !state.closed else { return nil }
            let id = state.nextBatchID
            state.nextBatchID += 1
            state.batches[id] = Batch(
                outcomes: Array(repeating: nil, count: count), remaining: count, waiter: waiter)
            return id
        }
    }

    /// Allocates the per-message id for slot `index` of `batch`; `closed` says the producer
    /// closed meanwhile, so the message must not be enqueued but completed as failed.
    func registerMessage(batch: UInt, index: Int) -> (id: UInt, closed: Bool) {
        state.withLock { state in
            let id = state.nextMessageID
            state.nextMessageID += 1
            state.messages[id] = (batch, index)
            return (id, state.closed)
        }
    }

    /// Records the outcome of message `messageID`; resumes its batch if it was the last.
    func complete(messageID: UInt, with outcome: Outcome) {
        let finished: (Waiter, [Outcome])? = state.withLock { state in
            guard let (batchID, index) = state.messages.removeValue(forKey: messageID),
                state.batches[batchID] != nil
            else { return nil }
            // In place: a copy of the batch (`var batch = state.batches[id]`) would copy its
            // outcomes on every report, quadratic in the batch size (20,000 commands sent at
            // once took minutes).
            let remaining = Self.modify(&state.batches[batchID]!) { batch -> Int in
                batch.outcomes[index] = outcome
                batch.remaining -= 1
                return batch.remaining
            }
            guard remaining == 0, let batch = state.batches.removeValue(forKey: batchID) else { return nil }
            return (batch.waiter, batch.outcomes.map { $0! })
        }
        if let (waiter, outcomes) = finished { waiter(outcomes) }
    }

    /// Runs `body` on a batch in place (no copy of its outcomes).
    private static func modify<T>(_ batch: inout Batch, _ body: (inout Batch) -> T) -> T { body(&batch) }

    /// Refuses new batches and fails every message still waiting with `error`.
    func close(failingPendingWith error: KafkaError) {
        let pending = state.withLock { state in
            state.closed = true
            return Array(state.messages.keys)
        }
        for id in pending { complete(messageID: id, with: .failure(error)) }
    }
}
