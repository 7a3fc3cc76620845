import Foundation
import HTTPTypes
import Hummingbird
import Interlude
import InterludePostgres
import InterludeWorker
import Logging

/// A page's outcome before the frame headers are added.
struct PageResponse {
    var status: HTTPResponse.Status
    var html: String
    var location: String?

    static func page(_ html: String, _ status: HTTPResponse.Status = .ok) -> PageResponse { PageResponse(status: status, html: html) }
}

/// The request handlers.
struct ConsoleRoutes: Sendable {
    let console: ReviewConsole

    private var checkpointer: PostgresCheckpointer { console.checkpointer }

    /// Identity, CSRF cookie, security headers and error pages around a handler.
    func respond(_ request: Request, _ handler: (PageFrame) async throws -> Response) async -> Response {
        let (token, isNew) = RequestSecurity.token(request)
        let nonce = RequestSecurity.nonce()
        var response: Response
        if let actor = RequestSecurity.actor(request, identity: console.configuration.identity) {
            let frame = PageFrame(actor: actor, identity: console.configuration.identity, nonce: nonce, csrf: token)
            do {
                response = try await handler(frame)
            } catch {
                console.logger.error("a console page failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
                response = html(.page(Pages.error("Something failed", "The console could not read or send what this page needs: \(error). Try again; if it persists, check the console's log.", frame), .internalServerError))
            }
        } else {
            let frame = PageFrame(actor: "nobody", identity: console.configuration.identity, nonce: nonce, csrf: token)
            let message = "This console takes the reviewer's name from \(console.configuration.identity), and this request has none. Open the console through the reverse proxy that signs users in."
            response = html(.page(Pages.error("Who are you?", message, frame), .unauthorized))
        }
        response.headers[.contentSecurityPolicy] = RequestSecurity.contentSecurityPolicy(nonce: nonce)
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        if isNew { response.setCookie(RequestSecurity.cookie(token)) }
        return response
    }

    func html(_ page: PageResponse) -> Response {
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8"]
        if let location = page.location { headers[.location] = location }
        return Response(status: page.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page.html)))
    }

    private func query(_ request: Request) -> [String: String] { HTML.form(Substring(request.uri.query ?? "")) }

    // MARK: Pages

    func pending(_ request: Request, _ frame: PageFrame) async throws -> Response {
        let fields = query(request)
        let filters = Pages.Filters(graph: fields["graph"] ?? "", minAge: fields["min_age"] ?? "", maxAge: fields["max_age"] ?? "")
        let now = Date()
        var problems: [String] = []
        func minutes(_ text: String, _ name: String) -> Date? {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { return nil }
            guard let value = Double(trimmed), value >= 0, value.isFinite else {
                problems.append("'\(text)' is not a number of minutes for \(name); write a number such as 5 or 0.5, or leave it empty")
                return nil
            }
            return now.addingTimeInterval(-value * 60)
        }
        let query = PendingReviewQuery(
            graph: filters.graph.isEmpty ? nil : filters.graph, raisedBefore: minutes(filters.minAge, "'waiting at least'"),
            raisedAfter: minutes(filters.maxAge, "'at most'"), limit: console.configuration.listLimit)
        let graphs = try await checkpointer.pendingReviewGraphs()
        guard problems.isEmpty else {
            return html(.page(Pages.pending([], graphs: graphs, filters: filters, error: problems.joined(separator: "; "), now: now, frame: frame), .badRequest))
        }
        let rows = try await checkpointer.pendingReviews(query)
        return html(.page(Pages.pending(rows, graphs: graphs, filters: filters, error: nil, now: now, frame: frame)))
    }

    func thread(_ request: Request, _ frame: PageFrame) async throws -> Response {
        let fields = query(request)
        var follow: (String, Int64)?
        if let command = fields["follow"], let after = fields["after"].flatMap({ Int64($0) }) { follow = (command, after) }
        return html(try await threadPage(fields["id"] ?? "", follow: follow, refusal: nil, status: .ok, frame: frame))
    }

    private func threadPage(
        _ threadID: String, follow: (command: String, after: Int64)?, refusal: (interruptID: String, message: String, form: [String: String])?,
        status: HTTPResponse.Status, frame: PageFrame
    ) async throws -> PageResponse {
        guard !threadID.isEmpty else {
            return .page(Pages.error("No thread named", "The link has no thread id (?id=...); open a thread from the list of pending questions.", frame), .badRequest)
        }
        guard let record = try await checkpointer.thread(threadID) else {
            return .page(Pages.error("Unknown thread", "There is no thread '\(threadID)' in this deployment's database (it may have been deleted by retention).", frame), .notFound)
        }
        let head = try await checkpointer.checkpoint(thread: threadID, id: nil)
        let history = try await checkpointer.history(thread: threadID, query: HistoryQuery(limit: 100))
        // The interrupts table has no namespace column: questions asked inside a subgraph get
        // theirs from the head checkpoint's saved interrupts.
        let namespaces = head?.subgraphNamespaces ?? [:]
        let interrupts = try await checkpointer.interrupts(thread: threadID).map { record in
            var record = record
            record.namespace = record.namespace ?? namespaces[record.id]
            return record
        }
        let view = ThreadView(
            record: record, values: head.map(StateValues.values(of:)) ?? [:], checkpoints: history.map(\.checkpoint),
            interrupts: interrupts, follow: follow, refusal: refusal)
        return .page(Pages.thread(view, now: Date(), frame: frame), status)
    }

    // MARK: Answers

    func answer(_ request: Request, _ frame: PageFrame) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 1 << 20)
        let form = HTML.form(Substring(String(buffer: body)))
        if let refusal = RequestSecurity.refusal(request, form: form) {
            console.logger.warning("refused a console form", metadata: ["reason": "\(refusal)"])
            return html(.page(Pages.error("Answer not accepted", "Nothing was sent: \(refusal).", frame), .forbidden))
        }
        guard let threadID = form["thread_id"], let interruptID = form["interrupt_id"], let decision = form["decision"] else {
            return html(.page(Pages.error("Incomplete answer", "The form lacks thread_id, interrupt_id or decision; answer from the thread page.", frame), .badRequest))
        }
        let interrupts = try await checkpointer.interrupts(thread: threadID)
        guard let interrupt = interrupts.first(where: { $0.id == interruptID }) else {
            return html(.page(Pages.error("Unknown question", "Thread '\(threadID)' has no question '\(interruptID)'; reload the thread page.", frame), .notFound))
        }
        let value: JSONValue
        do {
            value = try QuestionShape(interrupt.value).answer(decision: decision, form: form)
        } catch {
            return html(try await threadPage(threadID, follow: nil, refusal: (interruptID, "Nothing was sent: \(error.description).", form), status: .badRequest, frame: frame))
        }
        let after = try await checkpointer.outboxPosition()
        let commandID = "console-\(UUID().uuidString.lowercased())"
        do {
            try await console.commands.send(CommandMessage(id: commandID, threadID: threadID, body: .resume(value: nil, values: [interruptID: value], checkpointID: nil),
                actor: ReviewActor(frame.actor)))
        } catch {
            console.logger.error("could not publish a resume", metadata: ["interlude.thread_id": "\(threadID)", "error": "\(error)"])
            let message = "Kafka did not take the answer (\(error)); nothing was sent. Answer again in a moment."
            return html(try await threadPage(threadID, follow: nil, refusal: (interruptID, message, form), status: .badGateway, frame: frame))
        }
        console.logger.info(
            "answer sent",
            metadata: [
                "interlude.thread_id": "\(threadID)", "interlude.interrupt_id": "\(interruptID)", "interlude.command_id": "\(commandID)",
                "interlude.actor": "\(frame.actor)", "interlude.decision": "\(decision)",
            ])
        let location = "\(HTML.threadLink(threadID))&follow=\(HTML.query(commandID))&after=\(after)"
        return html(PageResponse(status: .seeOther, html: "", location: location))
    }

    // MARK: Live events

    func events(_ request: Request, _ frame: PageFrame) async throws -> Response {
        let fields = query(request)
        guard let threadID = fields["id"], !threadID.isEmpty, let after = fields["after"].flatMap({ Int64($0) }) else {
            return html(.page(Pages.error("Bad event stream", "The event stream needs ?id=THREAD&after=POSITION.", frame), .badRequest))
        }
        let command = fields["command"]
        let console = self.console
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: ": following \(threadID.count) characters of thread id\n\n"))
            let clock = ContinuousClock()
            let deadline = clock.now + console.configuration.followTimeout
            var lastWrite = clock.now
            var cursor = after
            var final: LiveEvents.Line?
            while final == nil, clock.now < deadline {
                let records: [OutboxRecord]
                do {
                    records = try await console.checkpointer.outboxRecords(thread: threadID, after: cursor)
                } catch {
                    final = LiveEvents.Line(text: "Could not read the thread's events (\(error)); reload the page.", outcome: "error")
                    break
                }
                for record in records {
                    cursor = record.seq
                    guard let line = LiveEvents.line(for: record.payload, command: command) else { continue }
                    if line.outcome != nil {
                        final = line
                        break
                    }
                    try await writer.write(ByteBuffer(string: LiveEvents.frame(line)))
                    lastWrite = clock.now
                }
                guard final == nil, records.isEmpty else { continue }
                if clock.now - lastWrite > .seconds(15) {
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    lastWrite = clock.now
                }
                try await Task.sleep(for: console.configuration.pollInterval)
            }
            let last = final ?? LiveEvents.Line(text: "Stopped following after \(console.configuration.followTimeout); reload the page to see where the thread stands.", outcome: "timeout")
            try await writer.write(ByteBuffer(string: LiveEvents.frame(last)))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}
