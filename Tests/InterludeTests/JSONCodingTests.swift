import Foundation
@testable import Interlude
import Testing

/// State fields of `String` and `[String]` are read by `JSONValue`'s parser instead of
/// Foundation's decoder; both must read the same text the same way.
@Suite("JSON coding of plain state fields")
struct JSONCodingTests {
    @Test("String and [String] read by the fast path equal Foundation's reading", arguments: [
        #""""#, #""plain""#, #""esc\"aped\n\u00e9 😀""#, #"  "spaced"  "#, #"[]"#, #"["a","b\\c"]"#, #"[ "x" , "" ]"#,
    ])
    func sameAsFoundation(text: String) throws {
        let data = Data(text.utf8)
        if text.contains("[") {
            #expect(JSONCoding.plainValue([String].self, from: data) == (try JSONDecoder().decode([String].self, from: data)))
            #expect(try JSONCoding.decode([String].self, from: data, what: "test") == (try JSONDecoder().decode([String].self, from: data)))
        } else {
            #expect(JSONCoding.plainValue(String.self, from: data) == (try JSONDecoder().decode(String.self, from: data)))
            #expect(try JSONCoding.decode(String.self, from: data, what: "test") == (try JSONDecoder().decode(String.self, from: data)))
        }
    }

    @Test("other types and other text are left to Foundation, whose error names what was read", arguments: [
        #"1"#, #"["a",1]"#, #"{"a":"b"}"#, #"null"#, #""unterminated"#,
    ])
    func leftToFoundation(text: String) {
        let data = Data(text.utf8)
        #expect(JSONCoding.plainValue(String.self, from: data) == nil)
        #expect(JSONCoding.plainValue([String].self, from: data) == nil)
        #expect(JSONCoding.plainValue(Int.self, from: Data("1".utf8)) == nil)
        #expect { try JSONCoding.decode([String].self, from: data, what: "channel 'log'") } throws: { error in
            (error as? GraphError)?.message.contains("could not decode channel 'log' as Array<String>") == true
        }
    }
}
