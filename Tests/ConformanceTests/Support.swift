import Foundation
import Interlude
import Testing

extension Tag {
    @Tag static var engine: Self
    @Tag static var conformance: Self
}

/// Every checkpointer the shared behaviour suite runs against.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory

    var testDescription: String { rawValue }

    /// A fresh, empty checkpointer of this kind.
    func make() async throws -> any Checkpointer {
        switch self {
        case .memory: return InMemoryCheckpointer()
        }
    }
}

/// A state with one append list, the `v` of CONFORMANCE.md.
struct ListState: GraphState, Equatable {
    var v: [String] = []
    static let channels: [Channel<ListState>] = [.append("v", \.v)]
}

/// A counter shared by the nodes of one test, to count how often each ran.
final class RunCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    func hit(_ name: String) { counts.withLock { $0[name, default: 0] += 1 } }
    subscript(_ name: String) -> Int { counts.withLock { $0[name] ?? 0 } }
}

import Synchronization

/// A fresh thread id per test.
func newThread() -> String { "t-" + UUID().uuidString.lowercased() }
