import Foundation
import Interlude
import InterludePostgres

/// What every page shows in its frame.
struct PageFrame {
    var actor: String
    var identity: ReviewConsole.IdentitySource
    /// The per-response nonce the Content-Security-Policy allows for inline style and script.
    var nonce: String
    /// The CSRF token of this browser's cookie, for forms.
    var csrf: String
}

/// The server-rendered pages. Every value that comes from users, graphs or storage is escaped.
enum Pages {
    static func layout(_ title: String, _ frame: PageFrame, body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(HTML.escape(title)) · Interlude review console</title>
        <style nonce="\(frame.nonce)">
        body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
        header{background:#1d2330;color:#fff;padding:10px 24px;display:flex;justify-content:space-between;align-items:center}
        header a{color:#fff;text-decoration:none;font-weight:600}
        main{padding:16px 24px;max-width:1180px}
        table{border-collapse:collapse;width:100%;background:#fff}
        th,td{border-bottom:1px solid #e1e4ea;padding:6px 8px;text-align:left;vertical-align:top}
        th{background:#eef0f4;font-weight:600}
        pre{background:#fff;border:1px solid #e1e4ea;padding:8px;margin:0;white-space:pre-wrap;word-break:break-word;font-size:13px}
        .card{background:#fff;border:1px solid #d5d9e0;border-radius:6px;padding:12px 16px;margin:12px 0}
        .note{color:#5b6475;font-size:13px}
        .error{background:#fde8e8;border:1px solid #e0a0a0;padding:8px 12px;border-radius:4px}
        .ok{color:#17703a;font-weight:600}.bad{color:#a52020;font-weight:600}
        textarea{width:100%;font:13px monospace;box-sizing:border-box}
        button{font:inherit;padding:4px 14px;margin:6px 6px 0 0;border-radius:4px;border:1px solid #8a93a6;background:#fff;cursor:pointer}
        button.approve{background:#1f7a43;color:#fff;border-color:#1f7a43}
        button.reject{background:#a52020;color:#fff;border-color:#a52020}
        .status{display:inline-block;padding:1px 8px;border-radius:10px;background:#eef0f4;font-size:13px}
        form.filters label{margin-right:14px}
        </style></head><body>
        <header><a href="/">Interlude review console</a><span>Signed in as <strong id="actor">\(HTML.escape(frame.actor))</strong></span></header>
        <main>
        \(body)
        <p class="note">Identity: \(HTML.escape(frame.identity.description)). Answers are published as resume commands on Kafka; PostgreSQL is read for everything shown.</p>
        </main></body></html>
        """
    }

    static func error(_ title: String, _ message: String, _ frame: PageFrame) -> String {
        layout(title, frame, body: "<h1>\(HTML.escape(title))</h1><p class=\"error\" id=\"error\">\(HTML.escape(message))</p><p><a href=\"/\">Back to the pending questions</a></p>")
    }

    /// The filters as submitted, kept on the page.
    struct Filters {
        var graph = ""
        var minAge = ""
        var maxAge = ""
    }

    static func pending(_ rows: [PendingReview], graphs: [String], filters: Filters, error: String?, now: Date, frame: PageFrame) -> String {
        var html = "<h1>Pending questions</h1>"
        html += "<form class=\"filters card\" method=\"get\" action=\"/\"><label>Graph <select name=\"graph\" id=\"filter-graph\"><option value=\"\">all graphs</option>"
        for graph in graphs {
            html += "<option value=\"\(HTML.escape(graph))\"\(graph == filters.graph ? " selected" : "")>\(HTML.escape(graph))</option>"
        }
        html += "</select></label>"
        html += "<label>Waiting at least <input name=\"min_age\" size=\"5\" value=\"\(HTML.escape(filters.minAge))\"> min</label>"
        html += "<label>at most <input name=\"max_age\" size=\"5\" value=\"\(HTML.escape(filters.maxAge))\"> min</label>"
        html += "<button type=\"submit\">Filter</button> <a href=\"/\">clear</a>"
        html += "<p class=\"note\">Approver filtering is not available yet: interrupts do not name their approvers until human review (issue 10) lands, so everyone who can reach this console may answer every question.</p></form>"
        if let error { html += "<p class=\"error\" id=\"error\">\(HTML.escape(error))</p>" }
        if rows.isEmpty {
            html += "<p id=\"empty\">Nothing is waiting\(filters.graph.isEmpty && filters.minAge.isEmpty && filters.maxAge.isEmpty ? "" : " that matches these filters").</p>"
            return layout("Pending questions", frame, body: html)
        }
        html += "<table id=\"pending\"><tr><th>Waiting</th><th>Graph</th><th>Thread</th><th>Node</th><th>Question</th><th>Deadline</th></tr>"
        for row in rows {
            let interrupt = row.interrupt
            html += "<tr class=\"pending-row\"><td title=\"\(HTML.escape(HTML.time(interrupt.createdAt)))\">\(HTML.duration(now.timeIntervalSince(interrupt.createdAt)))</td>"
            html += "<td>\(HTML.escape(row.graph.description))</td>"
            html += "<td><a class=\"thread-link\" href=\"\(HTML.escape(HTML.threadLink(interrupt.threadID)))\">\(HTML.escape(interrupt.threadID))</a></td>"
            html += "<td>\(HTML.escape(interrupt.node))</td><td>\(HTML.escape(HTML.summary(interrupt.value)))</td>"
            html += "<td>\(HTML.escape(HTML.deadline(interrupt.deadline, now: now)))</td></tr>"
        }
        html += "</table><p class=\"note\">Oldest first; \(rows.count) shown.</p>"
        return layout("Pending questions", frame, body: html)
    }
}
