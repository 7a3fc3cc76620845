/// Something that happened in a ``KafkaConsumer``, in the order it happened.
public enum KafkaConsumerEvent: Hashable, Sendable {
    /// A message was read.
    case message(KafkaMessage)
    /// These partitions were added to this consumer's assignment (incrementally, with the
    /// cooperative protocol).
    case partitionsAssigned([TopicPartition])
    /// These partitions were taken away in an orderly rebalance; offsets stored for them
    /// before this event were committed by the rebalance.
    case partitionsRevoked([TopicPartition])
    /// These partitions were lost (session timeout, fencing); another member may already
    /// process them, so in-flight work for them must be abandoned.
    case partitionsLost([TopicPartition])
    /// The broker no longer had these offsets of the partition when this consumer asked for
    /// them (deleted by retention before they were read), so the consumer went on after them:
    /// those messages were never delivered and never will be. Delivered just before the first
    /// message after the gap.
    case messagesSkipped(TopicPartition, offsets: Range<Int64>)
}

/// The events of a ``KafkaConsumer`` as an `AsyncSequence`. It ends after ``KafkaConsumer/close()``
/// and throws ``KafkaError`` (code `consumerFailure`) if the consumer hit a fatal error.
///
/// Iterate it from one task: every event is delivered to exactly one iterator.
public struct KafkaConsumerEvents: AsyncSequence, Sendable {
    /// The element type.
    public typealias Element = KafkaConsumerEvent
    /// The error type.
    public typealias Failure = KafkaError

    let stream: AsyncThrowingStream<KafkaConsumerEvent, any Error>
    let flow: ConsumerFlowControl

    /// Creates an iterator.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator(), flow: flow)
    }

    /// Iterator over consumer events.
    public struct AsyncIterator: AsyncIteratorProtocol {
        /// The error type.
        public typealias Failure = KafkaError

        var base: AsyncThrowingStream<KafkaConsumerEvent, any Error>.AsyncIterator
        let flow: ConsumerFlowControl

        /// The next event, or `nil` once the consumer is closed.
        public mutating func next() async throws(KafkaError) -> KafkaConsumerEvent? {
            do {
                let event = try await base.next()
                if case .message = event { flow.messageTaken() }
                return event
            } catch let error as KafkaError {
                throw error
            } catch {
                throw KafkaError(code: .consumerFailure, message: "consumer events failed: \(error)")
            }
        }
    }
}

/// Feeds consumer events from the polling thread into the events stream.
final class ConsumerEventSink: Sendable {
    let events: KafkaConsumerEvents
    let flow: ConsumerFlowControl
    /// Resets past deleted messages, read from librdkafka's log.
    let skips = OffsetResetWatch()
    private let continuation: AsyncThrowingStream<KafkaConsumerEvent, any Error>.Continuation

    init(flow: ConsumerFlowControl) {
        let (stream, continuation) = AsyncThrowingStream<KafkaConsumerEvent, any Error>.makeStream()
        self.events = KafkaConsumerEvents(stream: stream, flow: flow)
        self.flow = flow
        self.continuation = continuation
    }

    func yield(_ event: KafkaConsumerEvent) {
        if case .message = event { flow.messageYielded() }
        continuation.yield(event)
    }

    func finish(throwing error: KafkaError? = nil) {
        continuation.finish(throwing: error)
    }
}
