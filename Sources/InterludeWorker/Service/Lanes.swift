import Foundation
import InterludeKafka
import Logging
import Synchronization

/// One ordered queue of messages per partition, so a thread's commands apply in order while
/// partitions proceed in parallel. A partition whose queue fills is paused (the consumer
/// keeps polling, so a long step never gets the worker evicted) and resumed once it drains.
final class Lanes: Sendable {
    struct Lane: Sendable {
        let messages: AsyncStream<KafkaMessage>
        let continuation: AsyncStream<KafkaMessage>.Continuation
    }

    private struct State {
        var lanes: [TopicPartition: Lane] = [:]
        var queued: [TopicPartition: Int] = [:]
        var paused: Set<TopicPartition> = []
    }

    private let state = Mutex(State())
    private let buffer: Int
    private let consumer: KafkaConsumer
    private let logger: Logger

    init(buffer: Int, consumer: KafkaConsumer, logger: Logger) {
        self.buffer = buffer
        self.consumer = consumer
        self.logger = logger
    }

    /// Queues a message on its partition's lane; returns the lane when it is new (the caller
    /// starts a task to drain it).
    func route(_ message: KafkaMessage) -> Lane? {
        let partition = message.topicPartition
        let (lane, isNew, pause) = state.withLock { s -> (Lane, Bool, Bool) in
            var isNew = false
            if s.lanes[partition] == nil {
                let (stream, continuation) = AsyncStream.makeStream(of: KafkaMessage.self)
                s.lanes[partition] = Lane(messages: stream, continuation: continuation)
                isNew = true
            }
            s.queued[partition, default: 0] += 1
            let pause = s.queued[partition]! >= buffer && s.paused.insert(partition).inserted
            return (s.lanes[partition]!, isNew, pause)
        }
        lane.continuation.yield(message)
        if pause {
            do { try consumer.pause([partition]) } catch { logger.warning("pause failed", metadata: ["error": "\(error)"]) }
        }
        return isNew ? lane : nil
    }

    /// A message of the partition was handled.
    func done(_ partition: TopicPartition) {
        let resume = state.withLock { s -> Bool in
            s.queued[partition, default: 1] -= 1
            return s.queued[partition]! <= buffer / 2 && s.paused.remove(partition) != nil
        }
        if resume {
            do { try consumer.resume([partition]) } catch { logger.warning("resume failed", metadata: ["error": "\(error)"]) }
        }
    }

    /// The partitions were taken away: their lanes finish what they hold and end.
    func close(_ partitions: [TopicPartition]) {
        let closing = state.withLock { s -> [Lane] in
            partitions.compactMap { p in
                s.paused.remove(p)
                s.queued[p] = nil
                return s.lanes.removeValue(forKey: p)
            }
        }
        for lane in closing { lane.continuation.finish() }
    }

    /// Ends every lane.
    func closeAll() {
        let all = state.withLock { s -> [Lane] in
            defer { s = State() }
            return Array(s.lanes.values)
        }
        for lane in all { lane.continuation.finish() }
    }
}
