//! The waterfall page of `dagnats trace --html FILE`: one self-contained HTML file (inline
//! CSS and script, a Content-Security-Policy that forbids every fetch), readable offline.
//!
//! Each trace is a section with its own time axis; each span is a row, indented under
//! its parent in the order of the terminal tree, with one bar (`.bar`, `data-span-id`)
//! placed on the axis and coloured by service (the legend names the colours). Error spans
//! (status `error` or an error text) carry the class `error`: outlined, striped and
//! flagged with `!`. Clicking a bar (or its label, or Enter on a focused bar) opens the
//! details panel (`#details`): ids, times, status and its message, the error, the
//! attributes and the events.
//!
//! Span text is untrusted: everything placed in the markup is HTML-escaped, and the span
//! data the script reads is JSON in a non-executed script element with `<`, `>` and `&`
//! written as `\u003c`, `\u003e`, `\u0026`, so no text can close the element; the script
//! writes it into the page with `textContent` only.

use std::fmt::Write as _;

use dagnats_observe::attribute::{Attributes, Value};
use dagnats_observe::record::{SpanRecord, StatusCode};
use serde_json::json;

use super::render::{duration, short_id, span_nanos};
use super::tree::{Detached, Tree};

/// `s` escaped for HTML text and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON that can sit inside a `<script>` element whatever its strings hold.
fn script_json(v: &serde_json::Value) -> String {
    let text = serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
    text.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// Distinct colours for the first services (none of them the red that marks errors).
const PALETTE: [&str; 10] =
    ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#9c755f", "#ff9da7", "#17becf", "#bab0ac"];

/// The colour of the `i`-th service: the palette, then hues spread by the golden angle
/// away from red.
fn service_color(i: usize) -> String {
    match PALETTE.get(i) {
        Some(c) => (*c).to_owned(),
        None => format!("hsl({:.0}, 55%, 45%)", 35.0 + (i as f64 * 137.508) % 290.0),
    }
}

/// Whether a span shows as failed.
pub fn is_error(s: &SpanRecord) -> bool {
    s.status == StatusCode::Error || !s.error.is_empty()
}

/// A tick step of 1, 2 or 5 times a power of ten, giving about five ticks over `total`.
fn tick_step(total: u64) -> u64 {
    let rough = total.div_ceil(5).max(1);
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m) >= rough {
                return step.saturating_mul(m);
            }
        }
        step = step.saturating_mul(10);
    }
}

fn pct(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (part as f64 / total as f64 * 100.0).clamp(0.0, 100.0)
    }
}

fn value_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Bool(_) => "bool",
    }
}

fn attrs_json(a: &Attributes) -> serde_json::Value {
    a.iter().map(|a| json!([a.key.as_ref(), a.value.to_string(), value_type(&a.value)])).collect()
}

fn offset(from: u64, to: u64) -> String {
    match to.checked_sub(from) {
        Some(d) => format!("+{}", duration(d)),
        None => format!("-{}", duration(from - to)),
    }
}

/// The page: `title` on top, then one waterfall per tree.
pub fn page(title: &str, trees: &[Tree]) -> String {
    let mut services: Vec<&str> = trees.iter().flat_map(|t| t.services()).collect();
    services.sort_unstable();
    services.dedup();
    let color_of = |svc: &str| service_color(services.binary_search(&svc).unwrap_or(0));
    let span_count: usize = trees.iter().map(|t| t.spans.len()).sum();
    let error_count: usize = trees.iter().flat_map(|t| &t.spans).filter(|s| is_error(s)).count();

    let mut data = Vec::with_capacity(span_count);
    let mut body = String::new();
    for tree in trees {
        let (start, end) = (tree.start(), tree.end());
        let total = end - start;
        let _ = write!(
            body,
            "<section class=\"trace\" data-trace-id=\"{id}\">\n<h2>trace <code>{id}</code> · {n} span{s} · {d}</h2>\n<div class=\"waterfall\">\n<div class=\"axis\"><div class=\"label\"></div><div class=\"lane\">",
            id = tree.trace_id,
            n = tree.spans.len(),
            s = if tree.spans.len() == 1 { "" } else { "s" },
            d = escape(&duration(total)),
        );
        let step = tick_step(total);
        let mut t = 0;
        while t <= total {
            let _ = write!(
                body,
                "<span class=\"tick\" style=\"left:{:.3}%\">{}</span>",
                pct(t, total),
                escape(&duration(t))
            );
            t += step;
        }
        body.push_str("</div></div>\n");
        for row in &tree.rows {
            let s = tree.span(row);
            let i = data.len();
            let s_start = s.start_time.unix_nanos();
            let nanos = span_nanos(s);
            let note = match row.detached {
                Some(Detached::MissingParent(p)) => format!("parent {} not received", short_id(p)),
                Some(Detached::Cycle(p)) => format!("parent {} forms a cycle", short_id(p)),
                None => String::new(),
            };
            data.push(json!({
                "trace_id": s.trace_id.to_string(),
                "span_id": s.span_id.to_string(),
                "parent_id": s.parent_id.map(|p| p.to_string()),
                "parent_is_remote": s.parent_is_remote,
                "name": s.name.as_ref(),
                "service": s.service.as_ref(),
                "kind": s.kind.as_str(),
                "start": s.start_time.to_string(),
                "end": s.end_time.to_string(),
                "offset": offset(start, s_start),
                "duration": duration(nanos),
                "status": s.status.as_str(),
                "status_message": s.status_message,
                "error": s.error,
                "note": note,
                "attributes": attrs_json(&s.attributes),
                "events": s.events.iter().map(|e| json!({
                    "name": e.name.as_ref(),
                    "time": e.time.to_string(),
                    "offset": offset(s_start, e.time.unix_nanos()),
                    "attributes": attrs_json(&e.attributes),
                })).collect::<Vec<_>>(),
                "links": s.links.iter().map(|l| json!({"trace_id": l.trace_id.to_string(), "span_id": l.span_id.to_string()})).collect::<Vec<_>>(),
            }));
            let error = is_error(s);
            let class = if error { " error" } else { "" };
            let color = color_of(&s.service);
            let _ = writeln!(
                body,
                "<div class=\"row{class}\" data-span=\"{i}\"><div class=\"label\" style=\"padding-left:{pad}px\" title=\"{name_attr}\">{badge}<span class=\"dot\" style=\"background:{color}\"></span><span class=\"name\">{name}</span> <span class=\"svc\">{svc}</span>{note_html}</div>\
                 <div class=\"lane\"><div class=\"bar{class}\" role=\"button\" tabindex=\"0\" data-span=\"{i}\" data-span-id=\"{span_id}\" data-service=\"{svc}\" \
                 style=\"left:{left:.3}%;width:{width:.3}%;background-color:{color}\" title=\"{name_attr} · {dur}\"><span class=\"dur\">{dur}</span></div></div></div>",
                pad = 6 + 16 * row.depth,
                name_attr = escape(&s.name),
                badge = if error { "<span class=\"badge\" title=\"error\">!</span>" } else { "" },
                name = escape(&s.name),
                svc = escape(&s.service),
                note_html = if note.is_empty() { String::new() } else { format!(" <span class=\"note\">({})</span>", escape(&note)) },
                span_id = s.span_id,
                left = pct(s_start.saturating_sub(start), total),
                width = pct(nanos, total),
                dur = escape(&duration(nanos)),
            );
        }
        body.push_str("</div>\n</section>\n");
    }

    let mut legend = String::new();
    for svc in &services {
        let _ = write!(
            legend,
            "<li><span class=\"swatch\" style=\"background:{}\"></span>{}</li>",
            color_of(svc),
            escape(svc)
        );
    }
    legend.push_str("<li><span class=\"swatch error-swatch\"></span>error</li>");

    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n\
         <header><h1>{title}</h1><p class=\"summary\">{spans} span{s} in {traces} trace{ts} · {services} service{ss} · {errors} error{es} · generated by dagnats trace</p>\n\
         <ul class=\"legend\" aria-label=\"services\">{legend}</ul></header>\n<main>\n{body}</main>\n\
         <aside id=\"details\" hidden><button type=\"button\" id=\"details-close\" aria-label=\"close\">×</button>\
         <h3 id=\"details-name\"></h3><dl id=\"details-fields\"></dl><h4>Attributes</h4><table id=\"details-attributes\"></table>\
         <h4>Events</h4><table id=\"details-events\"></table><h4>Links</h4><table id=\"details-links\"></table></aside>\n\
         <script type=\"application/json\" id=\"span-data\">{data}</script>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        title = escape(title),
        spans = span_count,
        s = if span_count == 1 { "" } else { "s" },
        traces = trees.len(),
        ts = if trees.len() == 1 { "" } else { "s" },
        services = services.len(),
        ss = if services.len() == 1 { "" } else { "s" },
        errors = error_count,
        es = if error_count == 1 { "" } else { "s" },
        data = script_json(&serde_json::Value::Array(data)),
    )
}

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#f6f7f9}
header{padding:14px 20px 8px;background:#fff;border-bottom:1px solid #dde1e7}
h1{margin:0 0 4px;font-size:18px;word-break:break-all}
.summary{margin:0 0 8px;color:#5b6475}
.legend{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:6px 16px}
.legend li{display:flex;align-items:center;gap:6px}
.swatch{display:inline-block;width:14px;height:10px;border-radius:2px}
.error-swatch{background:repeating-linear-gradient(45deg,#d62828 0 3px,#fff 3px 6px);outline:2px solid #d62828}
main{padding:12px 20px 40px}
section.trace{background:#fff;border:1px solid #dde1e7;border-radius:6px;margin-bottom:18px;overflow:hidden}
h2{font-size:14px;margin:0;padding:8px 12px;border-bottom:1px solid #eef0f3;font-weight:600}
h2 code{font-size:12px}
.axis,.row{display:flex;align-items:stretch}
.axis{height:22px;border-bottom:1px solid #eef0f3;color:#7a8394;font-size:11px}
.label{flex:0 0 36%;max-width:36%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;padding:3px 8px 3px 6px;border-right:1px solid #eef0f3;cursor:pointer}
.lane{flex:1;position:relative;margin:0 56px 0 6px}
.tick{position:absolute;top:4px;transform:translateX(-50%);white-space:nowrap}
.tick:first-child{transform:none}
.row{min-height:24px;border-bottom:1px solid #f3f4f6}
.row:hover{background:#f5f8ff}
.row.selected{background:#e8efff}
.dot{display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:6px;vertical-align:middle}
.svc{color:#7a8394;font-size:11px}
.note{color:#a35d00;font-size:11px}
.badge{display:inline-block;width:14px;height:14px;line-height:14px;text-align:center;border-radius:50%;background:#d62828;color:#fff;font-weight:700;font-size:10px;margin-right:4px}
.row.error .name{color:#b3161b;font-weight:600}
.bar{position:absolute;top:5px;height:14px;min-width:3px;border-radius:3px;cursor:pointer;overflow:visible}
.bar:focus{outline:2px solid #1d4ed8;outline-offset:1px}
.bar.error{background-image:repeating-linear-gradient(45deg,rgba(255,255,255,.45) 0 3px,transparent 3px 7px);box-shadow:0 0 0 2px #d62828}
.dur{position:absolute;left:100%;margin-left:4px;top:-1px;font-size:11px;color:#5b6475;white-space:nowrap}
#details{position:fixed;top:0;right:0;bottom:0;width:min(440px,100vw);overflow:auto;background:#fff;border-left:1px solid #cfd5de;box-shadow:-4px 0 12px rgba(0,0,0,.08);padding:14px 16px}
#details h3{margin:0 24px 8px 0;font-size:15px;word-break:break-all}
#details h4{margin:14px 0 4px;font-size:12px;text-transform:uppercase;color:#5b6475}
#details-close{position:absolute;top:8px;right:10px;border:0;background:none;font-size:20px;cursor:pointer}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 10px;margin:0}
dt{color:#5b6475}
dd{margin:0;overflow-wrap:anywhere}
dd.error{color:#b3161b;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:12px}
th,td{text-align:left;padding:2px 6px;border-bottom:1px solid #eef0f3;vertical-align:top;overflow-wrap:anywhere}
#details-attributes td:first-child,#details-attributes td:last-child{white-space:nowrap}
body.with-details header,body.with-details main{margin-right:min(440px,100vw)}
td.empty{color:#9aa1ad}
"#;

const SCRIPT: &str = r#"
(function () {
  "use strict";
  var spans = JSON.parse(document.getElementById("span-data").textContent);
  var panel = document.getElementById("details");
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function fill(table, head, rows) {
    table.replaceChildren();
    if (!rows.length) {
      var tr = el("tr"), td = el("td", "none", "empty");
      td.colSpan = head.length; tr.append(td); table.append(tr); return;
    }
    var h = el("tr");
    head.forEach(function (c) { h.append(el("th", c)); });
    table.append(h);
    rows.forEach(function (r) {
      var tr = el("tr");
      r.forEach(function (c) { tr.append(el("td", c)); });
      table.append(tr);
    });
  }
  function kv(attrs) {
    return attrs.map(function (a) { return a[0] + "=" + a[1]; }).join(", ");
  }
  function show(i) {
    var s = spans[i];
    if (!s) return;
    document.getElementById("details-name").textContent = s.name;
    var dl = document.getElementById("details-fields");
    dl.replaceChildren();
    var fields = [
      ["service", s.service], ["kind", s.kind], ["status", s.status],
      ["status message", s.status_message], ["error", s.error], ["duration", s.duration],
      ["start", s.start + " (" + s.offset + ")"], ["end", s.end],
      ["trace id", s.trace_id], ["span id", s.span_id],
      ["parent id", s.parent_id ? s.parent_id + (s.parent_is_remote ? " (remote)" : "") : "none (root)"],
      ["note", s.note]
    ];
    fields.forEach(function (f) {
      if (f[1] === "" || f[1] === null || f[1] === undefined) return;
      dl.append(el("dt", f[0]));
      dl.append(el("dd", f[1], (f[0] === "error" || (f[0] === "status" && f[1] === "error")) ? "error" : ""));
    });
    fill(document.getElementById("details-attributes"), ["key", "value", "type"], s.attributes);
    fill(document.getElementById("details-events"), ["offset", "name", "attributes"],
      s.events.map(function (e) { return [e.offset, e.name, kv(e.attributes)]; }));
    fill(document.getElementById("details-links"), ["trace id", "span id"],
      s.links.map(function (l) { return [l.trace_id, l.span_id]; }));
    document.querySelectorAll(".row.selected").forEach(function (r) { r.classList.remove("selected"); });
    var row = document.querySelector('.row[data-span="' + i + '"]');
    if (row) row.classList.add("selected");
    panel.hidden = false;
    document.body.classList.add("with-details");
  }
  function hide() {
    panel.hidden = true;
    document.body.classList.remove("with-details");
  }
  document.querySelectorAll(".bar, .row > .label").forEach(function (b) {
    var i = Number(b.closest(".row").getAttribute("data-span"));
    b.addEventListener("click", function () { show(i); });
    b.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); show(i); }
    });
  });
  document.getElementById("details-close").addEventListener("click", hide);
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") hide(); });
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::tree::build;

    fn span(id: &str, parent: Option<&str>, name: &str, extra: serde_json::Value) -> SpanRecord {
        let mut v = json!({"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":id,"name":name,"service":"svc","kind":"server",
            "start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:00.25Z","duration_ms":250,"status":"ok"});
        if let Some(p) = parent {
            v["parent_id"] = json!(p);
        }
        for (k, x) in extra.as_object().cloned().unwrap_or_default() {
            v[k] = x;
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn one_bar_per_span_and_errors_marked() {
        let trees = build(vec![
            span("00000000000000a1", None, "root", json!({})),
            span("00000000000000a2", Some("00000000000000a1"), "bad", json!({"status": "error", "error": "boom"})),
        ]);
        let html = page("Trace x", &trees);
        assert_eq!(html.matches("<div class=\"bar").count(), 2);
        assert_eq!(html.matches("<div class=\"bar error\"").count(), 1);
        assert!(html.contains("data-span-id=\"00000000000000a2\""));
        assert!(!html.contains("http://") && !html.contains("https://"), "no network references");
    }

    #[test]
    fn hostile_text_is_escaped_everywhere() {
        let evil = r#"</script><script>alert(1)</script><img src=x onerror=alert(2)>"'&"#;
        let s = span(
            "00000000000000a1",
            None,
            evil,
            json!({"attributes": {"k</script>": "<b>v</b>"}, "error": "<i>e</i>"}),
        );
        let html = page("<title>", &build(vec![s]));
        assert_eq!(html.matches("<script").count(), 2, "only the page's own scripts");
        assert_eq!(html.matches("</script>").count(), 2);
        assert!(!html.contains("<img"));
        assert!(!html.contains("<b>v</b>") && !html.contains("<i>e</i>"));
        assert!(html.contains("&lt;/script&gt;&lt;script&gt;alert(1)"));
        // The JSON still reads back to the original text.
        let start = html.find("id=\"span-data\">").unwrap() + "id=\"span-data\">".len();
        let end = start + html[start..].find("</script>").unwrap();
        let data: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap();
        assert_eq!(data[0]["name"], r#"</script><script>alert(1)</script><img src=x onerror=alert(2)>"'&"#);
        assert_eq!(data[0]["attributes"][0][0], "k</script>");
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(1_000_000_000), 200_000_000);
        assert_eq!(tick_step(7), 2);
        assert_eq!(tick_step(0), 1);
    }
}
