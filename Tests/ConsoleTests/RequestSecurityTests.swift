import Foundation
import HTTPTypes
import Hummingbird
import Testing

@testable import InterludeConsole

@Suite("Review console identity and CSRF")
struct RequestSecurityTests {
    let token = String(repeating: "ab", count: 32)

    func request(_ fields: HTTPFields, authority: String = "127.0.0.1:8080") -> Request {
        Request(head: HTTPRequest(method: .post, scheme: "http", authority: authority, path: "/thread/answer", headerFields: fields), body: .init(buffer: ByteBuffer()))
    }

    @Test("the actor comes from the configured header, and a request without it has none")
    func actor() {
        let header = ReviewConsole.IdentitySource.header("X-Forwarded-User")
        #expect(RequestSecurity.actor(request([HTTPField.Name("X-Forwarded-User")!: "ana"]), identity: header) == "ana")
        #expect(RequestSecurity.actor(request([HTTPField.Name("X-Forwarded-User")!: "  "]), identity: header) == nil)
        #expect(RequestSecurity.actor(request([:]), identity: header) == nil)
        #expect(RequestSecurity.actor(request([:]), identity: .fixed("dev")) == "dev")
    }

    @Test("a POST passes only with the cookie's token in the form and, when sent, this console's origin")
    func csrf() {
        let cookie: HTTPFields = [.cookie: "\(RequestSecurity.cookieName)=\(token)"]
        #expect(RequestSecurity.refusal(request(cookie), form: ["csrf_token": token]) == nil)
        var sameOrigin = cookie
        sameOrigin[.origin] = "http://127.0.0.1:8080"
        #expect(RequestSecurity.refusal(request(sameOrigin), form: ["csrf_token": token]) == nil)
        var otherOrigin = cookie
        otherOrigin[.origin] = "http://evil.example"
        #expect(RequestSecurity.refusal(request(otherOrigin), form: ["csrf_token": token])?.contains("another site") == true)
        #expect(RequestSecurity.refusal(request(cookie), form: [:])?.contains("does not match") == true)
        #expect(RequestSecurity.refusal(request(cookie), form: ["csrf_token": String(repeating: "cd", count: 32)])?.contains("does not match") == true)
        #expect(RequestSecurity.refusal(request([:]), form: ["csrf_token": token])?.contains("no console cookie") == true)
    }

    @Test("a well-formed cookie is kept; a missing or malformed one is replaced by 32 fresh random bytes")
    func tokens() {
        #expect(RequestSecurity.token(request([.cookie: "\(RequestSecurity.cookieName)=\(token)"])) == (token, false))
        let fresh = RequestSecurity.token(request([.cookie: "\(RequestSecurity.cookieName)=<script>"]))
        #expect(fresh.isNew && fresh.token.count == 64 && fresh.token != token)
        #expect(RequestSecurity.token(request([:])).token != RequestSecurity.token(request([:])).token)
    }
}
