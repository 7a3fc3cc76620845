import InterludeWorker
import Testing

@Suite("Worker configuration", .tags(.worker))
struct WorkerConfigurationTests {
    @Test("dead letters go through a producer that does not linger, with every other setting of the events producer")
    func deadLetterProducer() {
        var configuration = Worker.Configuration()
        configuration.bootstrapServers = "broker-a:9092,broker-b:9092"
        configuration.kafkaProperties = ["security.protocol": "ssl", "ssl.ca.location": "/etc/ca.pem"]
        configuration.linger = .milliseconds(5)
        let events = configuration.producerConfiguration
        let letters = configuration.deadLetterProducerConfiguration
        #expect(events.linger == .milliseconds(5))
        #expect(letters.linger == .zero)
        #expect(letters.bootstrapServers == events.bootstrapServers)
        #expect(letters.librdkafkaProperties == events.librdkafkaProperties)
        #expect(letters.enableIdempotence && letters.messageTimeout == events.messageTimeout)
    }
}
