import Foundation
import Interlude
import InterludeWorker
import Testing

@Suite("Envelope validation", .tags(.worker))
struct EnvelopeValidationTests {
    let decoder = CommandDecoder()

    func reason(_ json: String) -> DeadLetterReason? {
        if case .failure(let reason) = decoder.decode(Array(json.utf8)) { return reason }
        return nil
    }

    func run(id: String = "c1", thread: String = "t1", input: String = "{}") -> String {
        #"{"type":"run","schema_version":1,"id":"\#(id)","thread_id":"\#(thread)","created_at":"2026-12-01T10:00:00Z","graph":"approval","input":\#(input)}"#
    }

    @Test("a valid run decodes")
    func valid() {
        #expect(reason(run()) == nil)
    }

    @Test("ids longer than 256 bytes are refused naming the field and the limit")
    func longIDs() throws {
        let long = String(repeating: "é", count: 129)  // 258 bytes
        let thread = try #require(reason(run(thread: long)))
        #expect(thread.code == "invalid_envelope")
        #expect(thread.detail.contains("'thread_id'") && thread.detail.contains("258 bytes") && thread.detail.contains("256"))
        let id = try #require(reason(run(id: String(repeating: "a", count: 3_000))))
        #expect(id.detail.contains("'id'"))
        #expect(reason(run(thread: String(repeating: "a", count: 256))) == nil)
    }

    @Test("control characters in ids are refused")
    func controlCharacters() throws {
        let tab = try #require(reason(run(thread: #"a\tb"#)))
        #expect(tab.code == "invalid_envelope")
        #expect(tab.detail.contains("U+0009"))
    }

    @Test("a NUL anywhere is refused with the path of the field that holds it")
    func nul() throws {
        let top = try #require(reason(run(id: #"c\u0000"#)))
        #expect(top.code == "invalid_envelope")
        #expect(top.detail.contains("field 'id'"))
        let deep = try #require(reason(run(input: #"{"messages":[{"content":"ok"},{"content":"bad\u0000"}]}"#)))
        #expect(deep.detail.contains("field 'input.messages[1].content'"), "\(deep.detail)")
        let key = try #require(reason(run(input: #"{"a":{"b\u0000":1}}"#)))
        #expect(key.detail.contains("a member name in 'input.a'"), "\(key.detail)")
    }
}
