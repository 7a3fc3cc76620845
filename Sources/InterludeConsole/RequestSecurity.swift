import Foundation
import HTTPTypes
import Hummingbird

/// Identity and CSRF for every request.
///
/// CSRF: a double-submit token. Every page sets (once) an HttpOnly, SameSite=Strict cookie
/// holding 32 random bytes; every form carries the same token in a hidden field; a POST is
/// accepted only when both are present and equal (compared in constant time), and, when the
/// browser sends an `Origin` header, only when it names this console's host.
enum RequestSecurity {
    static let cookieName = "interlude_console_csrf"

    /// The actor of a request, or `nil` when the configured header is missing or empty.
    static func actor(_ request: Request, identity: ReviewConsole.IdentitySource) -> String? {
        switch identity {
        case .fixed(let actor):
            return actor
        case .header(let name):
            guard let field = HTTPField.Name(name), let value = request.headers[field]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
                return nil
            }
            return value
        }
    }

    /// This browser's token, and whether it must be set as a cookie on the response.
    static func token(_ request: Request) -> (token: String, isNew: Bool) {
        if let value = request.cookies[cookieName]?.value, isWellFormed(value) { return (value, false) }
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return (bytes.map { String(format: "%02x", $0) }.joined(), true)
    }

    static func cookie(_ token: String) -> Cookie {
        Cookie(name: cookieName, value: token, path: "/", httpOnly: true, sameSite: .strict)
    }

    /// Why a POST is refused, or `nil` when its token and origin are good.
    static func refusal(_ request: Request, form: [String: String]) -> String? {
        if let origin = request.headers[.origin], origin != "null" {
            let host = request.head.authority ?? ""
            let originHost = URL(string: origin).map { url -> String in
                guard var host = url.host else { return "" }
                if host.contains(":") { host = "[\(host)]" }
                return url.port.map { "\(host):\($0)" } ?? host
            } ?? ""
            if originHost != host {
                return "the form was sent from another site (\(origin)); answer from this console's own pages"
            }
        }
        guard let cookie = request.cookies[cookieName]?.value, isWellFormed(cookie) else {
            return "this browser has no console cookie (cookies may be blocked, or the page was opened elsewhere); reload the thread page and answer again"
        }
        guard let sent = form["csrf_token"], constantTimeEqual(sent, cookie) else {
            return "the form's security token does not match this browser's cookie (the page may be stale); reload the thread page and answer again"
        }
        return nil
    }

    private static func isWellFormed(_ token: String) -> Bool {
        token.utf8.count == 64 && token.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    private static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }

    /// A fresh nonce for the Content-Security-Policy of one response.
    static func nonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }).base64EncodedString()
    }

    /// Only this page's own inline style and script run; forms post only here; no framing.
    static func contentSecurityPolicy(nonce: String) -> String {
        "default-src 'self'; script-src 'nonce-\(nonce)'; style-src 'nonce-\(nonce)'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    }
}
