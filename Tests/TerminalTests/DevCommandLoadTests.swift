import Testing

@testable import interlude

/// `interlude dev --auto-approve` refuses loads the embedded cluster would lose.
@Suite("interlude dev load size")
struct DevCommandLoadTests {
    @Test("An unpaced load of more runs per partition than the embedded cluster keeps is refused, naming the partitions it needs")
    func refusesOverflow() {
        let problem = DevCommand.overflowsEmbeddedCluster(runs: 20_000, partitions: 1, rate: nil)
        #expect(problem?.contains("--partitions 2 or more") == true, "\(problem ?? "accepted")")
        #expect(problem?.contains("--rate") == true)
        #expect(DevCommand.overflowsEmbeddedCluster(runs: 25_000, partitions: 2, rate: nil)?.contains("--partitions 3 or more") == true)
    }

    @Test("Loads within the limit, paced loads and the interactive demo are accepted")
    func acceptsTheRest() {
        #expect(DevCommand.overflowsEmbeddedCluster(runs: 10_000, partitions: 1, rate: nil) == nil)
        #expect(DevCommand.overflowsEmbeddedCluster(runs: 20_000, partitions: 2, rate: nil) == nil)
        #expect(DevCommand.overflowsEmbeddedCluster(runs: 20_000, partitions: 1, rate: 50) == nil)
        #expect(DevCommand.overflowsEmbeddedCluster(runs: nil, partitions: 1, rate: nil) == nil)
    }
}
