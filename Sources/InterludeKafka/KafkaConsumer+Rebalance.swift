internal import CRdKafka

extension KafkaConsumer {
    /// Called on the consumer's polling thread when partitions are taken away, before they
    /// are unassigned: `lost` is `false` for an orderly revocation (the partitions are still
    /// this member's, so the handler may finish their in-flight work and store its offsets,
    /// which the rebalance then commits) and `true` when they were lost (another member may
    /// already own them). The rebalance waits until the handler returns, so bound its wait
    /// (well under `max.poll.interval.ms`); never call back into the consumer's event stream.
    public typealias RevocationHandler = @Sendable (_ partitions: [TopicPartition], _ lost: Bool) -> Void

    /// The rebalance callback body; runs on the polling thread (inside `consumer_poll` or
    /// `consumer_close`). Applies the assignment change, then reports it as an event.
    static func rebalance(
        rk: OpaquePointer?,
        error: rd_kafka_resp_err_t,
        partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
    ) {
        guard let rk, let context = RDKafkaCallbackContext.of(rk) else { return }
        let changed = RDKafkaTopicPartitionList.partitions(of: partitions)
        let protocolName = rd_kafka_rebalance_protocol(rk).map { String(cString: $0) }
        let cooperative = protocolName == "COOPERATIVE"
        var failure: OpaquePointer? = nil
        switch error {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if cooperative {
                failure = rd_kafka_incremental_assign(rk, partitions)
            } else {
                rd_kafka_assign(rk, partitions)
            }
            context.consumerEvents?.yield(.partitionsAssigned(changed))
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let lost = rd_kafka_assignment_lost(rk) != 0
            // While the partitions are still assigned: the application finishes or abandons
            // their work and stores offsets, which the unassignment below commits.
            context.revocation?(changed, lost)
            if cooperative {
                failure = rd_kafka_incremental_unassign(rk, partitions)
            } else {
                rd_kafka_assign(rk, nil)
            }
            context.consumerEvents?.skips.forget(changed)
            context.consumerEvents?.yield(lost ? .partitionsLost(changed) : .partitionsRevoked(changed))
        default:
            context.logger.error(
                "rebalance failed; dropping the assignment",
                metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(error)))"]
            )
            context.revocation?(changed, true)
            rd_kafka_assign(rk, nil)
            context.consumerEvents?.skips.forget(changed)
            context.consumerEvents?.yield(.partitionsLost(changed))
        }
        if let failure {
            let error = KafkaError(code: .consumerFailure, message: "applying a rebalance", consuming: failure)
            context.logger.error("\(error)")
        }
    }
}
