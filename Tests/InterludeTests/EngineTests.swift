import Foundation
import Interlude
import Testing

struct Single: GraphState {
    var name = ""
    static let channels: [Channel<Single>] = [.value("name", \.name)]
}

@Suite("Superstep engine", .tags(.engine))
struct EngineTests {
    @Test("two parallel writes to a field without a reducer fail naming the field")
    func parallelLastValueWrites() async throws {
        var graph = StateGraph<Single>()
        graph.addNode("a") { _ in .update(\.name, "a") }
        graph.addNode("b") { _ in .update(\.name, "b") }
        graph.addEdge(START, "a")
        graph.addEdge(START, "b")
        let app = try graph.compile(checkpointer: InMemoryCheckpointer())
        let error = await #expect(throws: GraphError.self) { try await app.invoke(Single(), thread: "t") }
        #expect(error?.code == .invalidUpdate)
        #expect(error?.message.contains("field 'name' received 2 writes") == true)
        #expect(error?.message.contains("a, b") == true)
    }

    @Test("interrupt outside a node fails with interruptOutsideNode")
    func interruptOutsideNode() async {
        let error = await #expect(throws: GraphError.self) { let _: String = try await interrupt("q") }
        #expect(error?.code == .interruptOutsideNode)
        #expect(error?.message.contains("outside a running node") == true)
    }

    @Test("interrupt inside a child task of a node pauses and resumes the node")
    func interruptInChildTask() async throws {
        var graph = StateGraph<Doc>()
        graph.addNode("parent") { _ in
            async let child: String = interrupt("from child")
            let answer = try await child
            return .update(\.v, ["child:\(answer)"])
        }
        graph.addEdge(START, "parent")
        let app = try graph.compile(checkpointer: InMemoryCheckpointer())
        let paused = try await app.invoke(Doc(), thread: "t")
        #expect(paused.interrupts.map(\.value) == ["from child"])
        #expect(paused.interrupts.first?.node == "parent")
        let done = try await app.resume(thread: "t", with: "yes")
        #expect(done.values.v == ["child:yes"])
    }

    @Test("checkpoint ids increase, sort by time and round-trip through text")
    func checkpointIDs() throws {
        let start = Date(timeIntervalSince1970: 1_767_225_600)
        var previous = CheckpointID.next(now: start)
        for i in 0..<1000 {
            // Same millisecond, and a clock that goes backwards: ids still increase.
            let id = CheckpointID.next(after: previous, now: start.addingTimeInterval(i % 2 == 0 ? 0 : -5))
            #expect(id > previous)
            previous = id
        }
        // A time later than any id made so far in this process is stamped as given.
        let soon = Date().addingTimeInterval(1)
        let later = CheckpointID.next(now: soon)
        #expect(later > previous)
        #expect(later.milliseconds == UInt64(soon.timeIntervalSince1970 * 1000))
        let text = later.description
        #expect(text.count == 36)
        #expect(Array(text)[14] == "7", "a UUIDv7")
        #expect(CheckpointID(text) == later)
        #expect(CheckpointID(text.uppercased()) == later)
        #expect(CheckpointID("not-a-uuid") == nil)
        #expect(CheckpointID(String(text.dropLast()) + "g") == nil)
        let decoded = try JSONDecoder().decode([CheckpointID].self, from: JSONEncoder().encode([later]))
        #expect(decoded == [later])
    }

    @Test("an append channel stores deltas, so storage grows linearly with the list")
    func appendDeltas() async throws {
        let checkpointer = InMemoryCheckpointer()
        var graph = StateGraph<Doc>()
        graph.addNode("add") { state in .update(\.v, [String(format: "element-%03d-abcdefghijklmno", state.v.count)]) }
        graph.addEdge(START, "add")
        graph.addConditionalEdges("add", destinations: ["add", END]) { state in state.v.count < 200 ? "add" : END }
        let app = try graph.compile(checkpointer: checkpointer)
        let result = try await app.invoke(Doc(), thread: "t", config: RunConfig(recursionLimit: 250))
        #expect(result.values.v.count == 200)
        #expect(result.values.v.last?.utf8.count == 27)

        var blobs: [BlobKey: ChannelBlob] = [:]
        for tuple in try await checkpointer.history(thread: "t", query: HistoryQuery()) {
            for blob in tuple.blobs where blob.channel == "v" { blobs[BlobKey(channel: blob.channel, version: blob.version)] = blob }
        }
        #expect(blobs.count == 201)
        let deltas = blobs.values.filter { $0.base != nil }
        #expect(deltas.count > 150)
        #expect(deltas.allSatisfy { $0.data.count < 40 }, "a delta holds only the appended element")
        let total = blobs.values.reduce(0) { $0 + $1.data.count }
        #expect(total < 60_000, "stored \(total) bytes for 200 appends")
        // The head still reads back the whole list.
        #expect(try await app.getState(thread: "t")?.values.v == result.values.v)
    }
}

@Suite("Durability", .tags(.engine))
struct DurabilityTests {
    static func chain() throws -> StateGraph<Doc> {
        var graph = StateGraph<Doc>()
        for name in ["n1", "n2", "n3"] { graph.addNode(name) { _ in .update(\.v, [name]) } }
        graph.addEdge(START, "n1")
        graph.addEdge("n1", "n2")
        graph.addEdge("n2", "n3")
        return graph
    }

    @Test("exit durability saves every checkpoint in one commit; sync commits after every step")
    func exitCommitsOnce() async throws {
        var histories: [Durability: [Int]] = [:]
        var commits: [Durability: Int] = [:]
        for durability in [Durability.sync, .exit] {
            let checkpointer = InMemoryCheckpointer()
            let app = try Self.chain().compile(checkpointer: checkpointer)
            let result = try await app.invoke(Doc(), thread: "t", config: RunConfig(durability: durability))
            #expect(result.values.v == ["n1", "n2", "n3"])
            histories[durability] = try await app.stateHistory(thread: "t").map(\.step)
            commits[durability] = checkpointer.commitCount
            try checkpointer.verifyIntegrity()
        }
        #expect(histories[.sync] == [3, 2, 1, 0, -1])
        #expect(histories[.exit] == histories[.sync])
        #expect(commits[.exit] == 1)
        #expect(commits[.sync] == 4)
    }
}
