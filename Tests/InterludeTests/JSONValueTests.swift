import Foundation
import Interlude
import Testing

@Suite("JSONValue text")
struct JSONValueTests {
    @Test("values round-trip through their text, and match Foundation's reading of it", arguments: [
        #"null"#, #"true"#, #"false"#, #"0"#, #"-12"#, #"3.25"#, #"1e-7"#, #"1.5E+300"#, #""""#,
        #""line\nbreak \"quoted\" back\\slash tab\t é 😀""#, #""\u00e9\ud83d\ude00\u0001""#,
        #"[]"#, #"{}"#, #"[1,[2,[3,{"a":null}]]]"#, #"{"b":1,"a":{"z":[true,false]},"c":"x"}"#,
    ])
    func roundTrip(text: String) throws {
        let value = try JSONValue(json: Data(text.utf8))
        let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(value == foundation)
        #expect(try JSONValue(json: value.jsonData) == value)
    }

    @Test("invalid text is refused", arguments: [
        "", "nul", "tru", "01", "1.", ".5", "-", "1e", "[1,]", "[1 2]", "{\"a\"}", "{\"a\":1,}", "{a:1}",
        "\"unterminated", "\"bad \\x escape\"", "\"\\ud83d alone\"", "[1] 2", "\"raw \u{01} control\"",
    ])
    func invalid(text: String) {
        #expect(throws: GraphError.self) { try JSONValue(json: Data(text.utf8)) }
    }

    @Test("object keys are written sorted, so equal values have equal bytes")
    func sortedKeys() {
        let value: JSONValue = ["b": 1, "a": ["d": true, "c": .null]]
        #expect(String(decoding: value.jsonData, as: UTF8.self) == #"{"a":{"c":null,"d":true},"b":1}"#)
    }

    @Test("typed values convert to JSON and back")
    func typed() throws {
        struct Answer: Codable, Equatable { var approved: Bool; var note: String? }
        let json = try JSONValue(encoding: Answer(approved: true, note: "ok"))
        #expect(json == ["approved": true, "note": "ok"])
        #expect(try json.decode(Answer.self) == Answer(approved: true, note: "ok"))
        #expect(throws: GraphError.self) { try JSONValue("yes").decode(Answer.self) }
    }
}
