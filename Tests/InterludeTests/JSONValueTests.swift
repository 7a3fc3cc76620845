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

    @Test("a refusal says what is wrong and at which byte", arguments: [
        (#"{"a":1e400}"#, "the number 1e400 is beyond the range of a 64-bit float at byte 5"),
        (#"{"a":-1e400}"#, "the number -1e400 is beyond the range of a 64-bit float at byte 5"),
        (#"{"a":"x\ud800y"}"#, #"an unpaired surrogate \uD800 in a string (a high surrogate \uD800-\uDBFF must be followed by a low one \uDC00-\uDFFF) at byte 7"#),
        (#"["\udc00"]"#, #"an unpaired surrogate \uDC00 in a string (a high surrogate \uD800-\uDBFF must be followed by a low one \uDC00-\uDFFF) at byte 2"#),
        (String(repeating: "[", count: 600) + String(repeating: "]", count: 600), "arrays and objects nested deeper than 512 levels at byte 512"),
        (#"{"a":1,}"#, "expected a member name (a string in double quotes) at byte 7"),
        (#"{"a" 1}"#, #"expected ':' after the member name "a" at byte 5"#),
        (#"{"a":1 "b":2}"#, #"expected ',' or '}' after the member "a" at byte 7"#),
        ("[1 2]", "expected ',' or ']' after an array element at byte 3"),
        ("[1,", "the text ends where a value was expected at byte 3"),
        (#"{"a":tru}"#, "not a JSON value (expected null, true, false, a number, a string, an array or an object) at byte 5"),
        ("01", "a number with a leading zero at byte 0"),
        (#""bad \x""#, #"an invalid escape '\x' in a string at byte 5"#),
        ("\"a\u{07}b\"", "an unescaped control character (byte 0x7) in a string; write it as a \\u escape at byte 2"),
        (#"{"a":"open"#, "the text ends inside the string starting at byte 5"),
        ("[1] 2", "text after the JSON value at byte 4"),
    ])
    func diagnosed(text: String, problem: String) {
        guard case .failure(let error) = JSONValue.parsing(Data(text.utf8)) else {
            Issue.record("\(text) was accepted")
            return
        }
        #expect(error.description == problem)
        #expect((try? JSONValue(json: Data(text.utf8))) == nil)
    }

    @Test("invalid UTF-8 is placed at the string that holds it")
    func invalidUTF8Placed() {
        let bytes: [UInt8] = Array(#"{"k":"#.utf8) + [0x22, 0x61, 0xFF, 0x22, 0x7D]
        #expect(JSONValue.parsing(Data(bytes)) == .failure(JSONSyntaxError(offset: 5, problem: "invalid UTF-8 in the string starting")))
    }

    @Test("strings that are not valid UTF-8 are refused, with or without escapes before the bad bytes", arguments: [
        [0xFF], [0xC3, 0x28], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF0, 0x9F, 0x98], [0xF4, 0x90, 0x80, 0x80],
        [0x5C, 0x6E, 0xFF], [0x5C, 0x6E, 0xF0, 0x9F, 0x98],
    ] as [[UInt8]])
    func invalidUTF8(inside: [UInt8]) {
        let quoted: [UInt8] = [0x22] + inside + [0x22]
        #expect(throws: GraphError.self) { try JSONValue(json: Data(quoted)) }
        #expect(throws: GraphError.self) { try JSONValue(json: Data(Array(#"{"k":"#.utf8) + quoted + [0x7D])) }
        #expect(throws: GraphError.self) { try JSONValue(json: Data([0x7B] + quoted + Array(#":1}"#.utf8))) }
    }

    @Test("a string holding the replacement character itself (valid UTF-8) is kept as it is")
    func replacementCharacter() throws {
        #expect(try JSONValue(json: Data(#""a\#u{FFFD}b""#.utf8)) == .string("a\u{FFFD}b"))
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
