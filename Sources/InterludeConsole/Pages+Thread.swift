import Foundation
import Interlude

/// What the thread page shows.
struct ThreadView {
    var record: ThreadRecord
    var values: [String: JSONValue]
    var checkpoints: [Checkpoint]
    var interrupts: [InterruptRecord]
    /// Set right after an answer: the command to follow and the outbox position to start from.
    var follow: (command: String, after: Int64)?
    /// A refused form: the question it answered, why, and what was typed (kept, not lost).
    var refusal: (interruptID: String, message: String, form: [String: String])?
}

extension Pages {
    static func thread(_ view: ThreadView, now: Date, frame: PageFrame) -> String {
        let record = view.record
        var html = "<h1>Thread <code id=\"thread-id\">\(HTML.escape(record.threadID))</code></h1>"
        html += "<p>Graph <strong>\(HTML.escape(record.graph.description))</strong> · status <span class=\"status\" id=\"thread-status\">\(HTML.escape(record.status.rawValue))</span>"
        if let reason = record.failureReason { html += " (\(HTML.escape(reason)))" }
        html += " · last written \(HTML.escape(HTML.time(record.updatedAt)))</p>"
        if let follow = view.follow { html += live(threadID: record.threadID, command: follow.command, after: follow.after, nonce: frame.nonce) }
        let pending = view.interrupts.filter { $0.status == .pending }
        html += "<h2>Pending questions</h2>"
        if pending.isEmpty { html += "<p id=\"no-questions\">None: the thread is not waiting for an answer.</p>" }
        for interrupt in pending {
            let refusal = view.refusal?.interruptID == interrupt.id ? view.refusal : nil
            html += question(interrupt, threadID: record.threadID, refusal: refusal.map { (message: $0.message, form: $0.form) }, now: now, frame: frame)
        }
        html += "<h2>Current state</h2><table id=\"state\"><tr><th>Field</th><th>Value</th></tr>"
        for name in view.values.keys.sorted() {
            // Strings as text (line breaks kept), everything else as indented JSON.
            let value = view.values[name]!
            html += "<tr><td>\(HTML.escape(name))</td><td><pre>\(HTML.escape(value.stringValue ?? HTML.pretty(value)))</pre></td></tr>"
        }
        html += "</table>"
        html += timeline(view)
        return layout("Thread \(record.threadID)", frame, body: html)
    }

    private static func question(_ interrupt: InterruptRecord, threadID: String, refusal: (message: String, form: [String: String])?, now: Date, frame: PageFrame) -> String {
        let shape = QuestionShape(interrupt.value)
        let kept = refusal?.form ?? [:]
        func field(_ name: String, _ fallback: String) -> String { HTML.escape(kept[name] ?? fallback) }
        var html = "<div class=\"card question\" id=\"question-\(HTML.escape(interrupt.id))\">"
        let prompt = interrupt.value["prompt"]?.stringValue ?? ReviewRequest(json: interrupt.value)?.actionRequests.first?.description
        html += "<p><strong>\(HTML.escape(prompt ?? "Question from node \(interrupt.node)"))</strong></p>"
        html += "<p class=\"note\">Node \(HTML.escape(interrupt.node)) · asked \(HTML.escape(HTML.time(interrupt.createdAt))) · deadline \(HTML.escape(HTML.deadline(interrupt.deadline, now: now)))"
        if let onTimeout = interrupt.onTimeout { html += " · on timeout: \(HTML.escape(onTimeout.json.description))" }
        if let namespace = interrupt.namespace { html += " · asked inside the subgraph \(HTML.escape(namespace))" }
        html += " · interrupt \(HTML.escape(interrupt.id))</p>"
        html += "<pre class=\"question-value\">\(HTML.escape(HTML.pretty(interrupt.value)))</pre>"
        if let refusal { html += "<p class=\"error\" id=\"answer-error\">\(HTML.escape(refusal.message))</p>" }
        let hidden = """
            <input type="hidden" name="csrf_token" value="\(HTML.escape(frame.csrf))">\
            <input type="hidden" name="thread_id" value="\(HTML.escape(threadID))">\
            <input type="hidden" name="interrupt_id" value="\(HTML.escape(interrupt.id))">
            """
        let form = "<form method=\"post\" action=\"/thread/answer\" class=\"answer\">" + hidden
        switch shape {
        case .approval:
            html += form + "<label>Comment (optional for approve, the reason for reject)<textarea name=\"comment\" id=\"comment\" rows=\"2\">\(field("comment", ""))</textarea></label>"
            html += "<button class=\"approve\" name=\"decision\" value=\"approve\" id=\"approve\">Approve</button><button class=\"reject\" name=\"decision\" value=\"reject\" id=\"reject\">Reject</button></form>"
        case .toolReview(let request):
            let action = request.actionRequests[0]
            let allowed = request.config(for: action.name)?.allowedDecisions ?? []
            html += form + "<p class=\"tool-call\" id=\"tool-call\">Tool <code>\(HTML.escape(action.name))</code> · call <code>\(HTML.escape(action.id))</code> · allowed: \(HTML.escape(allowed.map(\.rawValue).joined(separator: ", ")))</p>"
            if allowed.contains(.edit) {
                html += "<label>Arguments (JSON; edit them and press Edit and run)<textarea name=\"arguments\" id=\"arguments\" rows=\"5\">\(field("arguments", HTML.pretty(action.args)))</textarea></label>"
                if let schema = request.config(for: action.name)?.argsSchema {
                    html += "<details><summary>Argument schema</summary><pre id=\"args-schema\">\(HTML.escape(HTML.pretty(schema.json)))</pre></details>"
                }
            }
            if allowed.contains(.reject) {
                html += "<label>Feedback for the model (for reject)<textarea name=\"feedback\" id=\"feedback\" rows=\"2\">\(field("feedback", ""))</textarea></label>"
            }
            if allowed.contains(.respond) {
                html += "<label>The tool's result (for respond: you answer in the tool's place)<textarea name=\"response\" id=\"response\" rows=\"2\">\(field("response", ""))</textarea></label>"
            }
            let buttons: [ReviewDecisionType: String] = [
                .approve: "<button class=\"approve\" name=\"decision\" value=\"approve\" id=\"approve\">Approve</button>",
                .edit: "<button name=\"decision\" value=\"edit\" id=\"edit\">Edit and run</button>",
                .reject: "<button class=\"reject\" name=\"decision\" value=\"reject\" id=\"reject\">Reject</button>",
                .respond: "<button name=\"decision\" value=\"respond\" id=\"respond\">Respond</button>",
            ]
            html += allowed.compactMap { buttons[$0] }.joined() + "</form>"
        case .draftEdit(let draft):
            html += form + "<label>Draft<textarea name=\"draft\" id=\"draft\" rows=\"6\">\(field("draft", draft))</textarea></label>"
            html += "<button class=\"approve\" name=\"decision\" value=\"edit\" id=\"edit\">Save the edited draft</button><button name=\"decision\" value=\"keep\" id=\"keep\">Keep the draft as it is</button></form>"
        case .json:
            break
        }
        html += "<details\(shape == .json || kept["json"] != nil ? " open" : "")><summary>Answer with JSON</summary>" + form
        html += "<textarea name=\"json\" id=\"json-answer\" rows=\"4\" placeholder=\"any JSON value, as the graph expects it\">\(field("json", ""))</textarea>"
        html += "<button name=\"decision\" value=\"json\" id=\"send-json\">Send this answer</button></form></details></div>"
        return html
    }

    private static func live(threadID: String, command: String, after: Int64, nonce: String) -> String {
        let source = "/thread/events?id=\(HTML.query(threadID))&after=\(after)&command=\(HTML.query(command))"
        return """
            <div class="card" id="live-panel"><h2>Following the run</h2>
            <p class="note">Answer sent as resume command <code>\(HTML.escape(command))</code>. Events appear as workers commit them.</p>
            <ol id="live"></ol><p id="live-status">Waiting for the workers…</p></div>
            <script nonce="\(nonce)">
            (function(){
              var list=document.getElementById('live'), status=document.getElementById('live-status');
              var events=new EventSource(\(jsString(source)));
              function add(text){var li=document.createElement('li');li.textContent=text;list.appendChild(li);}
              events.onmessage=function(e){add(JSON.parse(e.data).text);};
              events.addEventListener('done',function(e){var d=JSON.parse(e.data);add(d.text);status.textContent=d.text;
                status.className=d.outcome==='refused'||d.outcome==='failed'?'bad':'ok';status.setAttribute('data-outcome',d.outcome);
                var a=document.createElement('a');a.href=\(jsString(HTML.threadLink(threadID)));a.id='reload';a.textContent=' Reload the thread';status.appendChild(a);events.close();});
              events.onerror=function(){if(events.readyState===2){status.textContent='The connection to the console closed; reload the page.';}};
            })();
            </script>
            """
    }

    /// A JavaScript string literal (JSON string rules), safe inside a script element.
    static func jsString(_ text: String) -> String {
        JSONValue.string(text).description.replacingOccurrences(of: "<", with: "\\u003c")
    }

    private static func timeline(_ view: ThreadView) -> String {
        struct Entry { var at: Date; var order: Int; var html: String }
        var entries: [Entry] = []
        for checkpoint in view.checkpoints {
            var text = "Checkpoint step \(checkpoint.step) (\(checkpoint.source.rawValue)) <code>\(HTML.escape(checkpoint.id.description))</code>"
            if !checkpoint.metadata.isEmpty { text += " <span class=\"note\">\(HTML.escape(JSONValue.object(checkpoint.metadata).description))</span>" }
            entries.append(Entry(at: checkpoint.createdAt, order: 0, html: text))
        }
        for interrupt in view.interrupts {
            entries.append(Entry(at: interrupt.createdAt, order: 1, html: "Question from node \(HTML.escape(interrupt.node)): \(HTML.escape(HTML.summary(interrupt.value)))"))
            guard let resolvedAt = interrupt.resolvedAt else { continue }
            let by = interrupt.resolvedBy.map { " by <code>\(HTML.escape($0))</code>" } ?? ""
            let what: String
            switch interrupt.status {
            // `resolved_by` is the answering actor's id when the resume named one (the console
            // always does), else the resolving command's id.
            case .resolved: what = "Answered\(by)"
            case .expired: what = "Deadline passed\(by)"
            case .cancelled: what = "Cancelled\(by)"
            case .pending: what = "Pending"
            }
            entries.append(Entry(at: resolvedAt, order: 2, html: "\(what) (question \(HTML.escape(interrupt.id)))"))
        }
        entries.sort { ($0.at, $0.order) < ($1.at, $1.order) }
        var html = "<h2>Timeline</h2><table id=\"timeline\"><tr><th>When</th><th>What</th></tr>"
        for entry in entries { html += "<tr><td>\(HTML.escape(HTML.time(entry.at)))</td><td>\(entry.html)</td></tr>" }
        return html + "</table>"
    }
}
