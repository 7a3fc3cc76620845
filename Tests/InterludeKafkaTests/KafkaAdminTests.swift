import Testing

@testable import InterludeKafka

@Suite("KafkaAdmin", .tags(.kafka))
struct KafkaAdminTests {
    @Test("Creating topics that already exist reports them as existing, every time", .timeLimit(.minutes(1)))
    func createExistingTopics() async throws {
        let specs = [
            KafkaTopicSpec(name: uniqueName("runs"), partitions: 4, retention: .seconds(7 * 24 * 3600)),
            KafkaTopicSpec(name: uniqueName("events"), partitions: 2),
        ]
        let cluster = try TestCluster(topics: specs)
        let admin = try KafkaAdmin(
            configuration: .init(bootstrapServers: cluster.cluster.bootstrapServers), logger: cluster.logger)
        for _ in 0..<2 {
            let outcome = try await admin.createTopics(specs)
            #expect(outcome == Dictionary(uniqueKeysWithValues: specs.map { ($0.name, KafkaTopicCreation.alreadyExisted) }))
        }
        let listed = try await admin.listTopics()
        for spec in specs {
            #expect(listed.first { $0.name == spec.name }?.partitionCount == Int(spec.partitions))
        }
    }

    @Test("A topic the broker cannot create is named in the error", .timeLimit(.minutes(1)))
    func missingTopicIsNamed() async throws {
        let cluster = try TestCluster()
        var configuration = KafkaAdmin.Configuration(bootstrapServers: cluster.cluster.bootstrapServers)
        configuration.requestTimeout = .seconds(2)  // the mock cluster never answers CreateTopics
        let admin = try KafkaAdmin(configuration: configuration, logger: cluster.logger)
        let name = uniqueName("missing")
        let error = await #expect(throws: KafkaError.self) {
            _ = try await admin.createTopics([KafkaTopicSpec(name: name, partitions: 3)])
        }
        #expect(error?.code == .topicCreation || error?.code == .timedOut)
        #expect(error?.message.contains(name) == true, "\(String(describing: error))")
    }

    @Test("An admin client with an invalid property fails with the property's name")
    func invalidProperty() throws {
        var configuration = KafkaAdmin.Configuration(bootstrapServers: "127.0.0.1:1")
        configuration.librdkafkaProperties = ["socket.timeout.ms": "not-a-number"]
        let error = #expect(throws: KafkaError.self) {
            _ = try KafkaAdmin(configuration: configuration, logger: .init(label: "test"))
        }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("socket.timeout.ms") == true)
    }
}
