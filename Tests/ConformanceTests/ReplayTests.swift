import Foundation
import Interlude
import Testing

@Suite("G. Replay and fork", .tags(.conformance), .timeLimit(.minutes(1)))
struct ReplayTests {
    @Test("G1 running from a past checkpoint re-runs only what comes after it; from the final one nothing", arguments: Backend.allCases)
    func g1(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ListState>(backend) { addChain(&$0, ["n1", "n2", "n3"], counter) }
        let thread = newThread()
        _ = try await h.app.invoke(ListState(), thread: thread)
        let history = try await h.history(thread)
        let afterN1 = try #require(history.first { $0.next == ["n2"] })
        let replay = try await h.app.invoke(thread: thread, config: RunConfig(checkpointID: afterN1.checkpointID))
        #expect(replay.status == .completed)
        #expect(replay.values.v == ["n1", "n2", "n3"])
        #expect(counter["n1"] == 1 && counter["n2"] == 2 && counter["n3"] == 2)

        let final = try await h.state(thread)
        let count = try await h.history(thread).count
        let nothing = try await h.app.invoke(thread: thread, config: RunConfig(checkpointID: final.checkpointID))
        #expect(nothing.status == .completed)
        #expect(nothing.values.v == ["n1", "n2", "n3"])
        #expect(counter["n1"] == 1 && counter["n2"] == 2 && counter["n3"] == 2)
        #expect(try await h.history(thread).count == count)
        try await verifyIntegrity(h.checkpointer)
    }

    @Test("G2 replay writes a fork checkpoint, keeps the old branch, asks the interrupt again and resumes the new branch", arguments: Backend.allCases)
    func g2(backend: Backend) async throws {
        let counter = RunCounter()
        let (app, checkpointer, thread, paused) = try await InterruptTests.answeredThread(backend, counter)
        let old = try await app.stateHistory(thread: thread)
        let asked = try #require(old.first { $0.checkpointID == paused.checkpointID })

        let replay = try await app.invoke(thread: thread, config: RunConfig(checkpointID: asked.checkpointID))
        #expect(replay.status == .interrupted)
        #expect(replay.interrupts.map(\.value) == ["q"])
        #expect(replay.interrupts.first?.id != paused.interrupts.first?.id)
        #expect(replay.values.v == ["a"])
        #expect(counter["ask"] == 3)

        let history = try await app.stateHistory(thread: thread)
        #expect(history.count == old.count + 1)
        let fork = history[0]
        #expect(fork.source == .fork)
        #expect(fork.parentCheckpointID == asked.checkpointID)
        #expect(fork.step == asked.step + 1, "as in LangGraph, a fork's step is the replayed checkpoint's step + 1")
        #expect(Array(history.dropFirst().map(\.checkpointID)) == old.map(\.checkpointID))

        let done = try await app.resume(thread: thread, with: "again")
        #expect(done.values.v == ["a", "ask:again", "b"])
        #expect(counter["a"] == 1 && counter["ask"] == 4 && counter["b"] == 2)
        let head = try #require(try await app.getState(thread: thread))
        var cursor: CheckpointID? = head.checkpointID
        var chain: [CheckpointID] = []
        let all = try await app.stateHistory(thread: thread)
        while let id = cursor, let entry = all.first(where: { $0.checkpointID == id }) {
            chain.append(id)
            cursor = entry.parentCheckpointID
        }
        #expect(chain.contains(fork.checkpointID), "the resumed run continues the new branch")
        try await verifyIntegrity(checkpointer)
    }

    @Test("G3 updateState on a past checkpoint forks: edited state, old pending writes ignored, forks independent", arguments: Backend.allCases)
    func g3(backend: Backend) async throws {
        let counter = RunCounter()
        let (app, checkpointer, thread, paused) = try await InterruptTests.answeredThread(backend, counter)
        let asked = try #require(paused.checkpointID)

        var results: [RunResult<ListState>] = []
        for edit in ["E", "F"] {
            let id = try await app.updateState(thread: thread, values: .append(\.v, edit), checkpointID: asked)
            let fork = try #require(try await app.getState(thread: thread))
            #expect(fork.checkpointID == id)
            #expect(fork.parentCheckpointID == asked)
            #expect(fork.values.v == ["a", edit])
            #expect(fork.next == ["ask"])
            // The old answer and result saved on the forked checkpoint are not reused.
            let rerun = try await app.invoke(thread: thread)
            #expect(rerun.status == .interrupted)
            #expect(rerun.interrupts.map(\.value) == ["q"])
            results.append(try await app.resume(thread: thread, with: edit.lowercased()))
        }
        #expect(results.map(\.values.v) == [["a", "E", "ask:e", "b"], ["a", "F", "ask:f", "b"]])
        #expect(counter["a"] == 1)
        try await verifyIntegrity(checkpointer)
    }

    @Test("G4 resuming an interrupt that was already answered is refused as already resolved", arguments: Backend.allCases)
    func g4(backend: Backend) async throws {
        let counter = RunCounter()
        let app = try InterruptTests.askGraph(counter, checkpointer: try await backend.make())
        let thread = newThread()
        let paused = try await app.invoke(ListState(), thread: thread)
        let id = try #require(paused.interrupts.first?.id)
        _ = try await app.resume(thread: thread, answers: [id: "hello"])
        let head = try #require(try await app.getState(thread: thread)).checkpointID
        let error = await #expect(throws: GraphError.self) { try await app.resume(thread: thread, answers: [id: "changed"]) }
        #expect(error?.code == .alreadyResolved)
        #expect(error?.message.contains(id) == true)
        #expect(error?.message.contains("already") == true)
        #expect(error?.message.contains("fork") == true)
        #expect(try await app.getState(thread: thread)?.checkpointID == head)
        #expect(counter["ask"] == 2)
    }
}
