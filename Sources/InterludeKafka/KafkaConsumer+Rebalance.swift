internal import CRdKafka

extension KafkaConsumer {
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
            if cooperative {
                failure = rd_kafka_incremental_unassign(rk, partitions)
            } else {
                rd_kafka_assign(rk, nil)
            }
            context.consumerEvents?.yield(lost ? .partitionsLost(changed) : .partitionsRevoked(changed))
        default:
            context.logger.error(
                "rebalance failed; dropping the assignment",
                metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(error)))"]
            )
            rd_kafka_assign(rk, nil)
            context.consumerEvents?.yield(.partitionsLost(changed))
        }
        if let failure {
            let error = KafkaError(code: .consumerFailure, message: "applying a rebalance", consuming: failure)
            context.logger.error("\(error)")
        }
    }
}
