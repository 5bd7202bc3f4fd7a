//! Span records into trees: one [`Tree`] per trace, its spans in display order.
//!
//! Children come under their parent in start order (then end, name and id, so the order
//! is the same on every run). A span whose parent is not among the records (it never
//! arrived, or was not read) becomes an extra root that names the missing parent; it is
//! never dropped. Two records with the same span id are one span (the first kept, the
//! others counted), and parent links that form a cycle are cut at the earliest span of
//! the cycle, which becomes a root marked as such: building always ends, and every span
//! appears exactly once.

use std::collections::{HashMap, HashSet};

use dagnats_observe::id::{SpanId, TraceId};
use dagnats_observe::record::SpanRecord;

/// Why a span is shown at the top level although it has a parent id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detached {
    /// Its parent was never received.
    MissingParent(SpanId),
    /// Its parent links form a cycle; it was cut here.
    Cycle(SpanId),
}

/// One line of a tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Index of the span in [`Tree::spans`].
    pub span: usize,
    /// 0 for a root, 1 for its children, and so on.
    pub depth: usize,
    /// For each level 1..=depth, whether the span's ancestor at that level (the span
    /// itself for the last entry) is the last of its siblings: what a tree drawing needs.
    pub last: Vec<bool>,
    /// Set for a root that has a parent id.
    pub detached: Option<Detached>,
}

/// The spans of one trace, ready to show.
#[derive(Clone, Debug)]
pub struct Tree {
    /// The trace.
    pub trace_id: TraceId,
    /// Its spans, one per span id.
    pub spans: Vec<SpanRecord>,
    /// Every span once, parents before children, siblings in start order.
    pub rows: Vec<Row>,
    /// Records left out because another record had the same span id.
    pub duplicates: usize,
}

impl Tree {
    /// The earliest start of the trace (nanoseconds since the epoch).
    pub fn start(&self) -> u64 {
        self.spans.iter().map(|s| s.start_time.unix_nanos()).min().unwrap_or(0)
    }

    /// The latest end of the trace (never before its start).
    pub fn end(&self) -> u64 {
        self.spans.iter().map(|s| s.end_time.unix_nanos().max(s.start_time.unix_nanos())).max().unwrap_or(0)
    }

    /// The services of the trace, sorted, each once.
    pub fn services(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.spans.iter().map(|s| &*s.service).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The span of a row.
    pub fn span(&self, row: &Row) -> &SpanRecord {
        &self.spans[row.span]
    }
}

/// Groups `spans` by trace and builds each tree; the trees come in start order.
pub fn build(spans: Vec<SpanRecord>) -> Vec<Tree> {
    let mut by_trace: HashMap<TraceId, Vec<SpanRecord>> = HashMap::new();
    for s in spans {
        by_trace.entry(s.trace_id).or_default().push(s);
    }
    let mut trees: Vec<Tree> = by_trace.into_iter().map(|(id, spans)| build_one(id, spans)).collect();
    trees.sort_by_key(|t| (t.start(), t.trace_id));
    trees
}

/// Sort key of siblings.
fn order(s: &SpanRecord) -> (u64, u64, &str, SpanId) {
    (s.start_time.unix_nanos(), s.end_time.unix_nanos(), &s.name, s.span_id)
}

fn build_one(trace_id: TraceId, records: Vec<SpanRecord>) -> Tree {
    let mut seen = HashSet::new();
    let total = records.len();
    let mut spans: Vec<SpanRecord> = records.into_iter().filter(|s| seen.insert(s.span_id)).collect();
    let duplicates = total - spans.len();
    spans.sort_by(|a, b| order(a).cmp(&order(b)));

    let index: HashMap<SpanId, usize> = spans.iter().enumerate().map(|(i, s)| (s.span_id, i)).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots: Vec<(usize, Option<Detached>)> = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        match s.parent_id {
            None => roots.push((i, None)),
            Some(p) => match index.get(&p) {
                // Spans are sorted, so each children list is in start order too.
                Some(&parent) if parent != i => children[parent].push(i),
                Some(_) => roots.push((i, Some(Detached::Cycle(p)))),
                None => roots.push((i, Some(Detached::MissingParent(p)))),
            },
        }
    }

    let mut rows = Vec::with_capacity(spans.len());
    let mut visited = vec![false; spans.len()];
    let walk = |roots: &[(usize, Option<Detached>)], rows: &mut Vec<Row>, visited: &mut Vec<bool>| {
        // Depth-first without recursion: (span, depth, last flags).
        let mut stack: Vec<(usize, Vec<bool>, Option<Detached>)> =
            roots.iter().rev().map(|&(i, d)| (i, Vec::new(), d)).collect();
        while let Some((i, last, detached)) = stack.pop() {
            if std::mem::replace(&mut visited[i], true) {
                continue;
            }
            let kids: Vec<usize> = children[i].iter().copied().filter(|&c| !visited[c]).collect();
            for (n, &c) in kids.iter().enumerate().rev() {
                let mut l = last.clone();
                l.push(n + 1 == kids.len());
                stack.push((c, l, None));
            }
            rows.push(Row { span: i, depth: last.len(), last, detached });
        }
    };
    walk(&roots, &mut rows, &mut visited);
    // What is left hangs off a cycle: cut each cycle at its earliest span.
    while let Some(i) = visited.iter().position(|v| !v) {
        let parent = spans[i].parent_id.unwrap_or(spans[i].span_id);
        walk(&[(i, Some(Detached::Cycle(parent)))], &mut rows, &mut visited);
    }
    Tree { trace_id, spans, rows, duplicates }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dagnats_observe::record::Timestamp;

    fn span(id: u64, parent: Option<u64>, start: u64, name: &str) -> SpanRecord {
        let parent = parent.map(|p| format!(r#""parent_id":"{p:016x}","#)).unwrap_or_default();
        let mut s: SpanRecord = serde_json::from_str(&format!(
            r#"{{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"{id:016x}",{parent}"name":"{name}","service":"svc",
            "kind":"internal","start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:01Z","duration_ms":1000,"status":"ok"}}"#
        ))
        .unwrap();
        s.start_time = Timestamp(s.start_time.unix_nanos() + start);
        s
    }

    fn shape(t: &Tree) -> Vec<(String, usize)> {
        t.rows.iter().map(|r| (t.span(r).name.to_string(), r.depth)).collect()
    }

    #[test]
    fn parents_come_before_children_and_siblings_in_start_order() {
        let spans = vec![
            span(4, Some(2), 40, "grandchild"),
            span(3, Some(1), 30, "second"),
            span(2, Some(1), 20, "first"),
            span(1, None, 0, "root"),
        ];
        let trees = build(spans);
        assert_eq!(trees.len(), 1);
        assert_eq!(
            shape(&trees[0]),
            vec![("root".into(), 0), ("first".into(), 1), ("grandchild".into(), 2), ("second".into(), 1)]
        );
        let last: Vec<Vec<bool>> = trees[0].rows.iter().map(|r| r.last.clone()).collect();
        assert_eq!(last, vec![vec![], vec![false], vec![false, true], vec![true]]);
    }

    #[test]
    fn orphans_are_extra_roots_naming_their_parent() {
        let trees =
            build(vec![span(1, None, 0, "root"), span(5, Some(9), 10, "orphan"), span(6, Some(5), 20, "orphan-child")]);
        let t = &trees[0];
        assert_eq!(shape(t), vec![("root".into(), 0), ("orphan".into(), 0), ("orphan-child".into(), 1)]);
        assert_eq!(t.rows[1].detached, Some(Detached::MissingParent(SpanId::from_hex("0000000000000009").unwrap())));
    }

    #[test]
    fn cycles_and_duplicates_end_and_keep_every_span_once() {
        // 1 -> 2 -> 3 -> 1, and 4 its own parent, and 2 twice.
        let spans = vec![
            span(1, Some(3), 0, "a"),
            span(2, Some(1), 10, "b"),
            span(3, Some(2), 20, "c"),
            span(2, Some(1), 10, "b"),
            span(4, Some(4), 5, "self"),
        ];
        let trees = build(spans);
        let t = &trees[0];
        assert_eq!(t.duplicates, 1);
        assert_eq!(t.rows.len(), 4);
        let mut names: Vec<String> = shape(t).into_iter().map(|(n, _)| n).collect();
        names.sort();
        assert_eq!(names, ["a", "b", "c", "self"]);
        assert!(t.rows.iter().filter(|r| r.depth == 0).all(|r| matches!(r.detached, Some(Detached::Cycle(_)))));
        assert_eq!(shape(t), vec![("self".into(), 0), ("a".into(), 0), ("b".into(), 1), ("c".into(), 2)]);
    }

    #[test]
    fn traces_are_kept_apart_in_start_order() {
        let mut other = span(1, None, 0, "other-root");
        other.trace_id = TraceId::from_hex("11111111111111111111111111111111").unwrap();
        other.start_time = Timestamp(0);
        let trees = build(vec![span(1, None, 0, "root"), other]);
        assert_eq!(trees.len(), 2);
        assert_eq!(trees[0].spans[0].name, "other-root");
    }
}
