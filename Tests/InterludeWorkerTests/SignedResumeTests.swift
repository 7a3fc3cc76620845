import Foundation
import Interlude
import InterludeWorker
import Logging
import Testing

/// The approval graph of these tests with allowed approvers (user `alice`, role `finance`).
func makeGuardedGraph(checkpointer: any Checkpointer) throws -> CompiledGraph<ApprovalState> {
    var graph = StateGraph<ApprovalState>()
    graph.addNode("review") { _ in
        let ok: Bool = try await interrupt(["question": "send it?"] as JSONValue, approvers: Approvers(users: ["alice"], roles: ["finance"]))
        return .update(\.approved, ok)
    }
    graph.addEdge(START, "review")
    return try graph.compile(name: "guarded", checkpointer: checkpointer)
}

/// Actors, approvers and signed answers through the command processor: each refusal has its
/// reason, a `rejected` event, and applies nothing.
@Suite("Signed answers and approvers", .tags(.worker))
struct SignedResumeTests {
    let checkpointer = InMemoryCheckpointer()
    let clock = ManualClock(start: Date(timeIntervalSince1970: 1_800_000_000))
    /// A fixed key (32 bytes of 0x01): the Python client's tests sign with the same one.
    let signer = try! ResumeSigner(privateKey: Data(repeating: 1, count: 32), keyID: "k1")

    func processor(required: Bool = true) throws -> CommandProcessor {
        var registry = GraphRegistry()
        try registry.register(try makeGuardedGraph(checkpointer: checkpointer))
        var configuration = CommandProcessor.Configuration()
        configuration.signing = try ResumeSigning(required: required, keys: ["k1": signer.publicKey])
        return CommandProcessor(registry: registry, store: checkpointer, configuration: configuration, clock: clock, logger: Logger(label: "test"))
    }

    /// Starts thread `t` and returns its interrupt id.
    func start(_ processor: CommandProcessor) async throws -> String {
        let run = CommandMessage(id: "run", threadID: "t", body: .run(graph: "guarded", input: [:], config: nil, ifBusy: .reject))
        #expect(try await processor.process(run, topic: TopicNames().runs) == .applied(.interrupted))
        return try #require(try await checkpointer.interrupts(thread: "t").first?.id)
    }

    func resume(_ id: String, _ interrupt: String, actor: ReviewActor? = ReviewActor("alice")) -> CommandMessage {
        CommandMessage(id: id, threadID: "t", body: .resume(value: nil, values: [interrupt: true], checkpointID: nil), actor: actor)
    }

    func rejected(_ commandID: String) async throws -> JSONValue? {
        try await checkpointer.unpublishedOutbox(limit: 1000).map { try JSONValue(json: $0.payload) }
            .first { $0["type"] == "rejected" && $0["command_id"]?.stringValue == commandID }
    }

    func process(_ processor: CommandProcessor, _ command: CommandMessage) async throws -> ProcessResult {
        try await processor.process(command, topic: TopicNames().resumes)
    }

    @Test("the canonical bytes and signature match the Python signer's fixed vector")
    func fixedVector() throws {
        let command = CommandMessage(
            id: "cmd-1", threadID: "order-1042",
            body: .resume(value: nil, values: ["i-1": ["approved": true, "note": "ok \u{e9} \"q\" /\n", "n": 3]], checkpointID: nil),
            actor: ReviewActor("alice", roles: ["finance"]))
        let signed = try signer.sign(command, issuedAt: 1_800_000_000)
        let signature = try #require(signed.signature)
        let bytes = try SignedResume.canonicalBytes(threadID: "order-1042", value: nil, values: ["i-1": ["approved": true, "note": "ok \u{e9} \"q\" /\n", "n": 3]], actor: command.actor, signature: signature)
        let expected = #"interlude-resume-v1"# + "\n" + #"{"actor":{"id":"alice","roles":["finance"]},"expires_at":1800000300,"issued_at":1800000000,"key_id":"k1","thread_id":"order-1042","values":{"i-1":{"approved":true,"n":3,"note":"ok é \"q\" /\n"}}}"#
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
        // Ed25519 is deterministic: the Python client's test signs the same bytes with the same key.
        #expect(signature.signature == "ML8m3nxunp+n1G82bGmqHUWR9vfrjdDCgwkXWPHQyMfIZWmlEyk+dJLX3a6Nk9oypJ3QJJ7nAWsAQn2ixKGfCg==")
        #expect(signer.publicKey.base64EncodedString() == "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=")
        #expect(throws: SignedResume.NonIntegerNumber.self) {
            try SignedResume.canonicalBytes(threadID: "t", value: 0.5, values: nil, actor: nil, signature: signature)
        }
    }

    @Test("a signed resume from an approver applies once; its actor is recorded and shown in the step event")
    func signedApplies() async throws {
        let processor = try processor()
        let interrupt = try await start(processor)
        let command = try signer.sign(resume("r1", interrupt), issuedAt: 1_800_000_000)
        #expect(try await process(processor, command) == .applied(.completed))
        let record = try #require(try await checkpointer.interrupts(thread: "t").first)
        #expect(record.resolvedBy == "alice")
        let steps = try await checkpointer.unpublishedOutbox(limit: 1000).map { try JSONValue(json: $0.payload) }
            .filter { $0["type"] == "step" && $0["command_id"] == "r1" }
        #expect(!steps.isEmpty && steps.allSatisfy { $0["actor"] == ReviewActor("alice").json })
        // The same command again is a duplicate, not a replay.
        #expect(try await process(processor, command) == .duplicate)
    }

    @Test("unsigned, badly signed, unknown-key, expired and replayed resumes are refused with distinct reasons and apply nothing")
    func refusals() async throws {
        let processor = try processor()
        let interrupt = try await start(processor)
        let version = try await checkpointer.thread("t")?.version

        #expect(try await process(processor, resume("unsigned", interrupt)) == .rejected("signature_required"))

        var tampered = try signer.sign(resume("tampered", interrupt), issuedAt: 1_800_000_000)
        tampered.actor = ReviewActor("mallory", roles: ["finance"])
        #expect(try await process(processor, tampered) == .rejected("bad_signature"))

        var garbled = try signer.sign(resume("garbled", interrupt), issuedAt: 1_800_000_000)
        garbled.signature?.signature = "not base64!"
        #expect(try await process(processor, garbled) == .rejected("bad_signature"))

        let stranger = try ResumeSigner(privateKey: Data(repeating: 2, count: 32), keyID: "k9")
        #expect(try await process(processor, try stranger.sign(resume("stranger", interrupt), issuedAt: 1_800_000_000)) == .rejected("unknown_key"))

        let old = try signer.sign(resume("old", interrupt), issuedAt: 1_800_000_000 - 600)
        #expect(try await process(processor, old) == .rejected("signature_expired"))

        let future = try signer.sign(resume("future", interrupt), issuedAt: 1_800_000_000 + 3600)
        #expect(try await process(processor, future) == .rejected("bad_signature"))

        #expect(try await checkpointer.thread("t")?.version == version, "a refused resume changed the thread")
        let message = try #require(try await rejected("unsigned"))["message"]?.stringValue
        #expect(message?.contains("signed") == true)
        #expect(try await rejected("stranger")?["message"]?.stringValue?.contains("'k9'") == true)

        // A good signature applies; the same signed answer under another command id is a replay.
        let good = try signer.sign(resume("good", interrupt), issuedAt: 1_800_000_000)
        #expect(try await process(processor, good) == .applied(.completed))
        var replay = good
        replay.id = "replay"
        #expect(try await process(processor, replay) == .rejected("signature_replayed"))
        #expect(try await rejected("replay")?["message"]?.stringValue?.contains("'good'") == true)
    }

    @Test("an unlisted actor is refused not_allowed even with a valid signature; a role holder may answer")
    func approvers() async throws {
        let processor = try processor()
        let interrupt = try await start(processor)
        let mallory = try signer.sign(resume("mallory", interrupt, actor: ReviewActor("mallory", roles: ["sales"])), issuedAt: 1_800_000_000)
        #expect(try await process(processor, mallory) == .rejected("not_allowed"))
        let message = try #require(try await rejected("mallory")?["message"]?.stringValue)
        #expect(message.contains("'mallory'") && message.contains("users alice; roles finance"), "\(message)")
        let nobody = try signer.sign(resume("nobody", interrupt, actor: nil), issuedAt: 1_800_000_000)
        #expect(try await process(processor, nobody) == .rejected("not_allowed"))
        #expect(try await checkpointer.interrupts(thread: "t").first?.status == .pending)
        let bob = try signer.sign(resume("bob", interrupt, actor: ReviewActor("bob", roles: ["finance"])), issuedAt: 1_800_000_000)
        #expect(try await process(processor, bob) == .applied(.completed))
        #expect(try await checkpointer.interrupts(thread: "t").first?.resolvedBy == "bob")
    }

    @Test("without required signatures an unsigned resume applies, and an unsigned unlisted actor is still refused")
    func optional() async throws {
        let processor = try processor(required: false)
        let interrupt = try await start(processor)
        #expect(try await process(processor, resume("eve", interrupt, actor: ReviewActor("eve"))) == .rejected("not_allowed"))
        #expect(try await process(processor, resume("alice", interrupt)) == .applied(.completed))
    }

    @Test("the key set reads from JSON and refuses bad keys with a clear message")
    func keySet() throws {
        let keys = try ResumeSigning.keySet(json: Data(#"{"k1": "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w="}"#.utf8), source: "test")
        #expect(keys["k1"] == signer.publicKey)
        #expect(throws: WorkerError.self) { try ResumeSigning.keySet(json: Data("[]".utf8), source: "test") }
        let short = #expect(throws: WorkerError.self) { try ResumeSigning(required: false, keys: ["k": Data([1, 2])]) }
        #expect(short?.message.contains("32 raw bytes") == true)
        #expect(throws: WorkerError.self) { try ResumeSigning(required: true, keys: [:]) }
    }

    @Test("actor and signature decode from the envelope and re-encode; malformed ones are dead-lettered with the field named")
    func envelope() throws {
        let signed = try signer.sign(resume("r", "i-1", actor: ReviewActor("alice", roles: ["finance"])), issuedAt: 1_800_000_000)
        let decoded = try CommandDecoder().decode(Array(signed.json.jsonData)).get()
        #expect(decoded.actor == signed.actor)
        #expect(decoded.signature == signed.signature)
        func reason(_ patch: [String: JSONValue]) -> DeadLetterReason? {
            guard case .object(var object) = signed.json else { return nil }
            object.merge(patch) { _, new in new }
            if case .failure(let reason) = CommandDecoder().decode(Array(JSONValue.object(object).jsonData)) { return reason }
            return nil
        }
        #expect(reason(["actor": ["roles": ["x"]]])?.detail.contains("'actor'") == true)
        #expect(reason(["signature": ["key_id": "k1"]])?.detail.contains("'signature'") == true)
        #expect(reason(["signature": ["key_id": "k1", "issued_at": 1.5, "expires_at": 2, "sig": "x"]])?.detail.contains("issued_at") == true)
    }

    @Test("the events with the new fields validate against their schemas: approvers and an escalation step on the interrupt event, the actor on a step, the new rejection reasons")
    func eventSchemas() throws {
        var record = InterruptRecord(
            id: "i-1", threadID: "t", checkpointID: CheckpointID.next(), taskID: "task", node: "review", value: ["q": 1],
            status: .pending, deadline: Date(), onTimeout: .fail, createdAt: Date(),
            approvers: Approvers(users: ["alice"], roles: ["finance"], required: 2, rejectionDecides: true))
        record.escalationStep = "escalate"
        let review = EventMessages.review(record, graph: GraphIdentity(name: "g", version: 1), at: Date())
        #expect(review["id"] == "review-i-1-escalate" && review["escalation"] == "escalate")
        #expect(try MessageContractTests.validator("interrupt").errors(review).isEmpty)
        let step = EventMessages.step(threadID: "t", checkpointID: record.checkpointID, step: 1, status: .interrupted, commandID: "c", actor: ReviewActor("alice", roles: ["finance"]), at: Date())
        #expect(try MessageContractTests.validator("step").errors(step).isEmpty)
        for code in ["not_allowed", "already_voted", "signature_required", "bad_signature", "unknown_key", "signature_expired", "signature_replayed"] {
            let rejected = EventMessages.rejected(threadID: "t", commandID: "c", code: code, message: "m", at: Date())
            #expect(try MessageContractTests.validator("rejected").errors(rejected).isEmpty, "\(code)")
        }
        let signed = try signer.sign(resume("r", "i-1"), issuedAt: 1_800_000_000)
        #expect(try MessageContractTests.validator("resume").errors(signed.json).isEmpty)
    }
}
