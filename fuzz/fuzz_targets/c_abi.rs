//! The C ABI (`dagnats-observe-c`, include/dagnats_observe.h) called as a C program would,
//! through its exported `extern "C"` symbols, with fuzzed strings.
//!
//! Input: the bytes are split at NUL into pieces; each piece becomes a NUL-terminated C
//! string (so any byte but NUL, invalid UTF-8 included). Pairs of pieces are header
//! fields; the last piece is also the message body (an event, passed by pointer and
//! length). Small numbers (buffer sizes, kinds, flags, value types, doubles) are taken
//! from the input's bytes in turn.
//!
//! Calls: extract from a header array and through a `foreach` callback (which must agree),
//! inject into an event and into headers with small buffers first (BUFFER_TOO_SMALL must
//! report the size and leave the buffer untouched), the span-context getters, a context
//! from fuzzed ids, and on an in-memory telemetry: a span with fuzzed name, kind, parent
//! and attributes of every type, an event, an error and a status, ended and read back as
//! wire JSON (which must read as a span record), and a log record with fuzzed fields.
//!
//! Checks: no call panics (the library's panic boundary would return
//! DAGNATS_RESULT_PANIC; libFuzzer's hook aborts first), every result is one the header
//! documents for that call, and outputs are consistent.

#![no_main]

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::OnceLock;

use dagnats_observe::record::{LogRecord, SpanRecord};
use libfuzzer_sys::fuzz_target;

// Linked for its exported symbols, declared below as a C program sees them.
use dagnats_observe_c as _;

#[repr(C)]
struct Opaque {
    _private: [u8; 0],
}
type Ctx = Opaque;
type Telemetry = Opaque;
type Tracer = Opaque;
type Span = Opaque;
type Logger = Opaque;

#[repr(C)]
#[derive(Clone, Copy)]
struct Header {
    name: *const c_char,
    value: *const c_char,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Attribute {
    key: *const c_char,
    value_type: u32,
    string_value: *const c_char,
    int_value: i64,
    double_value: f64,
    bool_value: bool,
}

type Visitor = Option<unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char)>;
type Foreach = Option<unsafe extern "C" fn(*mut c_void, Visitor, *mut c_void) -> c_int>;
type Setter = Option<unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char) -> c_int>;

const OK: u32 = 0;
const INVALID_UTF8: u32 = 1001;
const INVALID_ARGUMENT: u32 = 1002;
const BUFFER_TOO_SMALL: u32 = 1003;
const RECORD_SPAN: u32 = 0;
const RECORD_LOG: u32 = 1;

extern "C" {
    fn dagnats_extract_headers(
        headers: *const Header,
        headers_len: usize,
        event: *const u8,
        event_len: usize,
        out: *mut *mut Ctx,
    ) -> u32;
    fn dagnats_extract_with(
        foreach: Foreach,
        carrier: *mut c_void,
        event: *const u8,
        event_len: usize,
        out: *mut *mut Ctx,
    ) -> u32;
    fn dagnats_inject_with(context: *const Ctx, set: Setter, carrier: *mut c_void) -> u32;
    fn dagnats_inject_headers(
        context: *const Ctx,
        headers: *mut Header,
        headers_len: usize,
        headers_written: *mut usize,
        buf: *mut c_char,
        buf_len: usize,
        buf_needed: *mut usize,
    ) -> u32;
    fn dagnats_inject_event(
        context: *const Ctx,
        event: *const u8,
        event_len: usize,
        buf: *mut c_char,
        len: usize,
        needed: *mut usize,
    ) -> u32;
    fn dagnats_span_context_free(context: *mut Ctx);
    fn dagnats_span_context_from_ids(
        trace_id: *const c_char,
        span_id: *const c_char,
        flags: u8,
        tracestate: *const c_char,
        out: *mut *mut Ctx,
    ) -> u32;
    fn dagnats_span_context_trace_id(context: *const Ctx, buf: *mut c_char, len: usize, needed: *mut usize) -> u32;
    fn dagnats_span_context_span_id(context: *const Ctx, buf: *mut c_char, len: usize, needed: *mut usize) -> u32;
    fn dagnats_span_context_traceparent(context: *const Ctx, buf: *mut c_char, len: usize, needed: *mut usize) -> u32;
    fn dagnats_span_context_tracestate(context: *const Ctx, buf: *mut c_char, len: usize, needed: *mut usize) -> u32;
    fn dagnats_span_context_flags(context: *const Ctx) -> u8;
    fn dagnats_span_context_is_remote(context: *const Ctx) -> bool;
    fn dagnats_last_error_message(buf: *mut c_char, len: usize, needed: *mut usize) -> u32;

    fn dagnats_telemetry_in_memory(service: *const c_char, out: *mut *mut Telemetry) -> u32;
    fn dagnats_telemetry_tracer(telemetry: *const Telemetry, out: *mut *mut Tracer) -> u32;
    fn dagnats_telemetry_logger(telemetry: *const Telemetry, out: *mut *mut Logger) -> u32;
    fn dagnats_telemetry_memory_count(telemetry: *const Telemetry, record_type: u32, out: *mut usize) -> u32;
    fn dagnats_telemetry_memory_json(
        telemetry: *const Telemetry,
        record_type: u32,
        index: usize,
        buf: *mut c_char,
        len: usize,
        needed: *mut usize,
    ) -> u32;
    fn dagnats_telemetry_memory_clear(telemetry: *const Telemetry) -> u32;
    fn dagnats_tracer_start_span(
        tracer: *const Tracer,
        name: *const c_char,
        kind: u32,
        parent: *const Ctx,
        attributes: *const Attribute,
        attributes_len: usize,
        out: *mut *mut Span,
    ) -> u32;
    fn dagnats_span_set_status(span: *mut Span, code: u32, description: *const c_char) -> u32;
    fn dagnats_span_set_attribute_string(span: *mut Span, key: *const c_char, value: *const c_char) -> u32;
    fn dagnats_span_set_attribute_int64(span: *mut Span, key: *const c_char, value: i64) -> u32;
    fn dagnats_span_set_attribute_double(span: *mut Span, key: *const c_char, value: f64) -> u32;
    fn dagnats_span_set_attribute_bool(span: *mut Span, key: *const c_char, value: bool) -> u32;
    fn dagnats_span_set_attributes(span: *mut Span, attributes: *const Attribute, attributes_len: usize) -> u32;
    fn dagnats_span_record_error(span: *mut Span, message: *const c_char, type_name: *const c_char) -> u32;
    fn dagnats_span_add_event(
        span: *mut Span,
        name: *const c_char,
        attributes: *const Attribute,
        attributes_len: usize,
    ) -> u32;
    fn dagnats_span_end(span: *mut *mut Span) -> u32;
    fn dagnats_logger_log(
        logger: *const Logger,
        level: u32,
        message: *const c_char,
        span: *const Ctx,
        fields: *const Attribute,
        fields_len: usize,
        error: *const c_char,
    ) -> u32;
}

/// Header fields and attributes used per input, at most.
const MAX_FIELDS: usize = 12;

/// The fuzzed input as C strings and a cycling source of small numbers.
struct Input<'a> {
    raw: &'a [u8],
    pieces: Vec<CString>,
    next_piece: usize,
    next_byte: usize,
}

impl<'a> Input<'a> {
    fn new(raw: &'a [u8]) -> Self {
        let pieces = raw.split(|b| *b == 0).map(|p| CString::new(p).expect("pieces hold no NUL")).collect();
        Input { raw, pieces, next_piece: 0, next_byte: 0 }
    }
    fn byte(&mut self) -> u8 {
        if self.raw.is_empty() {
            return 0;
        }
        let b = self.raw[self.next_byte % self.raw.len()];
        self.next_byte += 1;
        b
    }
    fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |acc, _| (acc << 8) | u64::from(self.byte()))
    }
    fn piece(&mut self) -> *const c_char {
        let p = self.pieces[self.next_piece % self.pieces.len()].as_ptr();
        self.next_piece += 1;
        p
    }
    /// The bytes of a piece (a pointer from [`piece`](Self::piece), while `self` lives).
    fn bytes_of(&self, p: *const c_char) -> Vec<u8> {
        let piece = self.pieces.iter().find(|c| c.as_ptr() == p).expect("a piece of this input");
        piece.as_bytes().to_vec()
    }
    fn attributes(&mut self, n: usize) -> Vec<Attribute> {
        (0..n)
            .map(|_| Attribute {
                key: self.piece(),
                // 0..=3 are the DAGNATS_VALUE_* constants; 4 is an unknown type.
                value_type: u32::from(self.byte() % 5),
                string_value: self.piece(),
                int_value: self.u64() as i64,
                double_value: f64::from_bits(self.u64()),
                bool_value: self.byte() & 1 == 1,
            })
            .collect()
    }
}

fn expect_ok_or(r: u32, allowed: &[u32], call: &str) {
    assert!(r == OK || allowed.contains(&r), "{call} returned {r}: {}", last_error());
}

fn last_error() -> String {
    let mut buf = vec![0 as c_char; 512];
    let mut needed = 0usize;
    let r = unsafe { dagnats_last_error_message(buf.as_mut_ptr(), buf.len(), &mut needed) };
    if r != OK {
        return format!("(last error needs {needed} bytes)");
    }
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
}

/// Calls a `buf, len, needed` writer first with a buffer of `small` bytes, then with the
/// size it asked for; returns the text, or None when the call failed otherwise.
fn read_string(small: usize, call: &str, f: impl Fn(*mut c_char, usize, *mut usize) -> u32) -> Option<Vec<u8>> {
    const SENTINEL: c_char = 0x5a;
    let mut buf = vec![SENTINEL; small];
    let mut needed = usize::MAX;
    let r = f(if small == 0 { std::ptr::null_mut() } else { buf.as_mut_ptr() }, small, &mut needed);
    match r {
        OK => {
            assert!(needed <= small && needed >= 1, "{call}: needed {needed} with a buffer of {small}");
            assert_eq!(buf[needed - 1], 0, "{call}: output not NUL-terminated");
            let text = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_bytes().to_vec();
            assert_eq!(text.len() + 1, needed, "{call}: NUL inside the output");
            Some(text)
        }
        BUFFER_TOO_SMALL => {
            assert!(needed > small, "{call}: too small with needed {needed} <= {small}");
            assert!(buf.iter().all(|b| *b == SENTINEL), "{call}: a too-small buffer was written");
            let mut big = vec![SENTINEL; needed];
            let mut needed2 = 0usize;
            let r = f(big.as_mut_ptr(), big.len(), &mut needed2);
            assert_eq!(r, OK, "{call}: failed with the size it asked for: {}", last_error());
            assert_eq!(needed2, needed);
            let text = unsafe { CStr::from_ptr(big.as_ptr()) }.to_bytes().to_vec();
            assert_eq!(text.len() + 1, needed, "{call}: NUL inside the output");
            Some(text)
        }
        other => {
            assert_ne!(other, 9001, "{call} panicked: {}", last_error());
            None
        }
    }
}

/// The context's fields as C sees them.
fn describe(ctx: *const Ctx, small: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>, u8, bool) {
    let trace_id = read_string(small, "trace_id", |b, l, n| unsafe { dagnats_span_context_trace_id(ctx, b, l, n) });
    let span_id = read_string(small, "span_id", |b, l, n| unsafe { dagnats_span_context_span_id(ctx, b, l, n) });
    let tp = read_string(small, "traceparent", |b, l, n| unsafe { dagnats_span_context_traceparent(ctx, b, l, n) });
    let ts = read_string(small, "tracestate", |b, l, n| unsafe { dagnats_span_context_tracestate(ctx, b, l, n) });
    let (trace_id, span_id, tp, ts) = (trace_id.unwrap(), span_id.unwrap(), tp.unwrap(), ts.unwrap());
    assert_eq!(trace_id.len(), 32);
    assert_eq!(span_id.len(), 16);
    assert_eq!(tp.len(), 55);
    assert_eq!(&tp[3..35], &trace_id[..]);
    assert_eq!(&tp[36..52], &span_id[..]);
    let flags = unsafe { dagnats_span_context_flags(ctx) };
    assert_eq!(&tp[53..], format!("{flags:02x}").as_bytes());
    (trace_id, span_id, tp, ts, flags, unsafe { dagnats_span_context_is_remote(ctx) })
}

/// Header fields handed to `dagnats_extract_with`'s callback.
struct Carrier(Vec<Header>);

unsafe extern "C" fn foreach_fields(carrier: *mut c_void, visit: Visitor, state: *mut c_void) -> c_int {
    let carrier = &*carrier.cast::<Carrier>();
    let visit = visit.expect("visitor");
    for h in &carrier.0 {
        visit(state, h.name, h.value);
    }
    0
}

/// Fields set through `dagnats_inject_with`.
unsafe extern "C" fn set_field(carrier: *mut c_void, name: *const c_char, value: *const c_char) -> c_int {
    let fields = &mut *carrier.cast::<Vec<(Vec<u8>, Vec<u8>)>>();
    fields.push((CStr::from_ptr(name).to_bytes().to_vec(), CStr::from_ptr(value).to_bytes().to_vec()));
    0
}

struct Shared {
    telemetry: *mut Telemetry,
    tracer: *mut Tracer,
    logger: *mut Logger,
}
// SAFETY: the handles are documented as shareable between threads; libFuzzer also runs
// the target on one thread.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

/// One in-memory telemetry for the whole run (cleared after every input).
fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| unsafe {
        let mut telemetry = std::ptr::null_mut();
        assert_eq!(dagnats_telemetry_in_memory(c"fuzz".as_ptr(), &mut telemetry), OK);
        let mut tracer = std::ptr::null_mut();
        assert_eq!(dagnats_telemetry_tracer(telemetry, &mut tracer), OK);
        let mut logger = std::ptr::null_mut();
        assert_eq!(dagnats_telemetry_logger(telemetry, &mut logger), OK);
        Shared { telemetry, tracer, logger }
    })
}

/// The last record of `record_type` as wire JSON.
fn last_record(record_type: u32, small: usize) -> Vec<u8> {
    let t = shared().telemetry;
    let mut count = 0usize;
    assert_eq!(unsafe { dagnats_telemetry_memory_count(t, record_type, &mut count) }, OK);
    assert!(count >= 1, "no record of type {record_type} in memory");
    read_string(small, "memory_json", |b, l, n| unsafe {
        dagnats_telemetry_memory_json(t, record_type, count - 1, b, l, n)
    })
    .expect("memory_json of the last record")
}

fn extract(input: &mut Input<'_>) -> *mut Ctx {
    let n_fields = (input.pieces.len() / 2).min(MAX_FIELDS);
    let headers: Vec<Header> = (0..n_fields)
        .map(|i| Header { name: input.pieces[2 * i].as_ptr(), value: input.pieces[2 * i + 1].as_ptr() })
        .collect();
    let event = input.pieces.last().map(|p| p.as_bytes()).unwrap_or_default();
    let (event_ptr, event_len) = if event.is_empty() { (std::ptr::null(), 0) } else { (event.as_ptr(), event.len()) };

    let mut from_array: *mut Ctx = std::ptr::null_mut();
    let r = unsafe { dagnats_extract_headers(headers.as_ptr(), headers.len(), event_ptr, event_len, &mut from_array) };
    assert_eq!(r, OK, "extract_headers: {}", last_error());

    let mut carrier = Carrier(headers);
    let mut from_callback: *mut Ctx = std::ptr::null_mut();
    let r = unsafe {
        dagnats_extract_with(
            Some(foreach_fields),
            (&mut carrier as *mut Carrier).cast(),
            event_ptr,
            event_len,
            &mut from_callback,
        )
    };
    assert_eq!(r, OK, "extract_with: {}", last_error());
    assert_eq!(from_array.is_null(), from_callback.is_null(), "extract_headers and extract_with disagree");
    if !from_array.is_null() {
        assert_eq!(describe(from_array, 0), describe(from_callback, 64), "extract_headers and extract_with disagree");
        assert!(unsafe { dagnats_span_context_is_remote(from_array) });
    }
    unsafe { dagnats_span_context_free(from_callback) };

    // The body alone, without headers.
    let mut from_event: *mut Ctx = std::ptr::null_mut();
    let r = unsafe { dagnats_extract_headers(std::ptr::null(), 0, event_ptr, event_len, &mut from_event) };
    assert_eq!(r, OK, "extract_headers (event only): {}", last_error());
    unsafe { dagnats_span_context_free(from_event) };

    from_array
}

fn inject(ctx: *const Ctx, input: &mut Input<'_>) {
    let small = usize::from(input.byte() % 80);
    let (_, _, tp, ts, _, _) = describe(ctx, small);

    // Into the event body: any bytes; a JSON object gets the fields, anything else is
    // INVALID_ARGUMENT.
    let event = input.pieces.last().map(|p| p.as_bytes()).unwrap_or_default();
    let (event_ptr, event_len) = if event.is_empty() { (std::ptr::null(), 0) } else { (event.as_ptr(), event.len()) };
    let is_object = event.is_empty() || matches!(serde_json::from_slice(event), Ok(serde_json::Value::Object(_)));
    let small = usize::from(input.byte());
    let mut buf = vec![0 as c_char; small];
    let mut needed = 0usize;
    let r = unsafe { dagnats_inject_event(ctx, event_ptr, event_len, buf.as_mut_ptr(), small, &mut needed) };
    if is_object {
        assert!(r == OK || r == BUFFER_TOO_SMALL, "inject_event returned {r}: {}", last_error());
        let json = read_string(small, "inject_event", |b, l, n| unsafe {
            dagnats_inject_event(ctx, event_ptr, event_len, b, l, n)
        })
        .expect("inject_event into a JSON object");
        let v: serde_json::Value = serde_json::from_slice(&json).expect("inject_event wrote JSON");
        assert_eq!(v["trace_parent"].as_str().map(str::as_bytes), Some(&tp[..]));
        if ts.is_empty() {
            assert!(v.get("trace_state").is_none());
        } else {
            assert_eq!(v["trace_state"].as_str().map(str::as_bytes), Some(&ts[..]));
        }
    } else {
        assert_eq!(r, INVALID_ARGUMENT, "inject_event into a non-object: {}", last_error());
    }

    // Into caller arrays, too small first.
    let fields = if ts.is_empty() { 1 } else { 2 };
    let mut headers = [Header { name: std::ptr::null(), value: std::ptr::null() }; 2];
    let headers_len = usize::from(input.byte() % 3);
    let buf_len = usize::from(input.byte());
    let mut buf = vec![0 as c_char; buf_len];
    let (mut written, mut buf_needed) = (0usize, 0usize);
    let r = unsafe {
        dagnats_inject_headers(
            ctx,
            headers.as_mut_ptr(),
            headers_len,
            &mut written,
            buf.as_mut_ptr(),
            buf_len,
            &mut buf_needed,
        )
    };
    assert_eq!(written, fields);
    assert_eq!(buf_needed, tp.len() + 1 + if ts.is_empty() { 0 } else { ts.len() + 1 });
    if headers_len < fields || buf_len < buf_needed {
        assert_eq!(r, BUFFER_TOO_SMALL);
        buf = vec![0 as c_char; buf_needed];
        let r = unsafe {
            dagnats_inject_headers(
                ctx,
                headers.as_mut_ptr(),
                2,
                &mut written,
                buf.as_mut_ptr(),
                buf.len(),
                &mut buf_needed,
            )
        };
        assert_eq!(r, OK, "inject_headers: {}", last_error());
    } else {
        assert_eq!(r, OK, "inject_headers: {}", last_error());
    }
    let got: Vec<(Vec<u8>, Vec<u8>)> = headers[..fields]
        .iter()
        .map(|h| unsafe { (CStr::from_ptr(h.name).to_bytes().to_vec(), CStr::from_ptr(h.value).to_bytes().to_vec()) })
        .collect();
    assert_eq!(got[0], (b"traceparent".to_vec(), tp.clone()));
    if fields == 2 {
        assert_eq!(got[1], (b"tracestate".to_vec(), ts.clone()));
    }

    // Through the setter callback: the same fields.
    let mut set: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let r = unsafe { dagnats_inject_with(ctx, Some(set_field), (&mut set as *mut Vec<(Vec<u8>, Vec<u8>)>).cast()) };
    assert_eq!(r, OK, "inject_with: {}", last_error());
    assert_eq!(set, got);

    // And extracting what was injected gives the same context back.
    let hs: Vec<Header> = headers[..fields].to_vec();
    let mut again: *mut Ctx = std::ptr::null_mut();
    assert_eq!(unsafe { dagnats_extract_headers(hs.as_ptr(), hs.len(), std::ptr::null(), 0, &mut again) }, OK);
    assert!(!again.is_null(), "injected headers do not extract");
    let d = describe(again, 0);
    assert_eq!((&d.2, &d.3), (&tp, &ts));
    unsafe { dagnats_span_context_free(again) };
}

fn from_ids(input: &mut Input<'_>) -> *mut Ctx {
    let (trace_id, span_id) = (input.piece(), input.piece());
    let flags = input.byte();
    let tracestate = if input.byte() & 1 == 0 { std::ptr::null() } else { input.piece() };
    let mut ctx: *mut Ctx = std::ptr::null_mut();
    let r = unsafe { dagnats_span_context_from_ids(trace_id, span_id, flags, tracestate, &mut ctx) };
    expect_ok_or(r, &[INVALID_ARGUMENT, INVALID_UTF8], "span_context_from_ids");
    if r == OK {
        let (t, s, _, _, f, remote) = describe(ctx, 33);
        assert_eq!(t, input.bytes_of(trace_id));
        assert_eq!(s, input.bytes_of(span_id));
        assert_eq!(f, flags);
        assert!(remote);
    } else {
        assert!(ctx.is_null());
    }
    ctx
}

fn record_span(parent: *const Ctx, input: &mut Input<'_>) {
    let tracer = shared().tracer;
    let name = input.piece();
    let kind = u32::from(input.byte() % 6); // 5: not a DAGNATS_SPAN_KIND_*
    let n = usize::from(input.byte()) % (MAX_FIELDS + 1);
    let attrs = input.attributes(n);
    let mut span: *mut Span = std::ptr::null_mut();
    let r = unsafe { dagnats_tracer_start_span(tracer, name, kind, parent, attrs.as_ptr(), attrs.len(), &mut span) };
    expect_ok_or(r, &[INVALID_ARGUMENT, INVALID_UTF8], "tracer_start_span");
    if r != OK {
        assert!(span.is_null());
        // The same span with a plain name, kind and no attributes always starts.
        let r =
            unsafe { dagnats_tracer_start_span(tracer, c"fuzz".as_ptr(), 0, parent, std::ptr::null(), 0, &mut span) };
        assert_eq!(r, OK, "tracer_start_span: {}", last_error());
    }

    let bad = &[INVALID_ARGUMENT, INVALID_UTF8];
    let (k, v) = (input.piece(), input.piece());
    expect_ok_or(unsafe { dagnats_span_set_attribute_string(span, k, v) }, bad, "set_attribute_string");
    let k = input.piece();
    expect_ok_or(unsafe { dagnats_span_set_attribute_int64(span, k, input.u64() as i64) }, bad, "set_attribute_int64");
    let k = input.piece();
    let x = f64::from_bits(input.u64());
    expect_ok_or(unsafe { dagnats_span_set_attribute_double(span, k, x) }, bad, "set_attribute_double");
    let k = input.piece();
    let b = input.byte() & 1 == 1;
    expect_ok_or(unsafe { dagnats_span_set_attribute_bool(span, k, b) }, bad, "set_attribute_bool");
    let n = usize::from(input.byte()) % (MAX_FIELDS + 1);
    let attrs = input.attributes(n);
    expect_ok_or(unsafe { dagnats_span_set_attributes(span, attrs.as_ptr(), attrs.len()) }, bad, "set_attributes");
    let name = input.piece();
    let n = usize::from(input.byte()) % 4;
    let attrs = input.attributes(n);
    expect_ok_or(unsafe { dagnats_span_add_event(span, name, attrs.as_ptr(), attrs.len()) }, bad, "add_event");
    let (message, type_name) = (input.piece(), if input.byte() & 1 == 0 { std::ptr::null() } else { input.piece() });
    expect_ok_or(unsafe { dagnats_span_record_error(span, message, type_name) }, bad, "record_error");
    let code = u32::from(input.byte() % 4); // 3: not a DAGNATS_STATUS_*
    let description = if input.byte() & 1 == 0 { std::ptr::null() } else { input.piece() };
    expect_ok_or(unsafe { dagnats_span_set_status(span, code, description) }, bad, "set_status");

    assert_eq!(unsafe { dagnats_span_end(&mut span) }, OK, "span_end: {}", last_error());
    assert!(span.is_null());

    let json = last_record(RECORD_SPAN, usize::from(input.byte()) * 4);
    // (An empty span name is accepted here, though the bridge dead-letters such a span.)
    if let Err(e) = serde_json::from_slice::<SpanRecord>(&json) {
        panic!("a span written through the C ABI does not read back: {e}\n{}", String::from_utf8_lossy(&json));
    }
}

fn record_log(span: *const Ctx, input: &mut Input<'_>) {
    let logger = shared().logger;
    let level = u32::from(input.byte() % 6); // 5: not a DAGNATS_LEVEL_*
    let message = input.piece();
    let n = usize::from(input.byte()) % (MAX_FIELDS + 1);
    let fields = input.attributes(n);
    let error = if input.byte() & 1 == 0 { std::ptr::null() } else { input.piece() };
    let r = unsafe { dagnats_logger_log(logger, level, message, span, fields.as_ptr(), fields.len(), error) };
    expect_ok_or(r, &[INVALID_ARGUMENT, INVALID_UTF8], "logger_log");
    if r == OK {
        let json = last_record(RECORD_LOG, 0);
        if let Err(e) = serde_json::from_slice::<LogRecord>(&json) {
            panic!("a log written through the C ABI does not read back: {e}\n{}", String::from_utf8_lossy(&json));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);

    let extracted = extract(&mut input);
    if !extracted.is_null() {
        inject(extracted, &mut input);
    }
    let built = from_ids(&mut input);
    if !built.is_null() {
        inject(built, &mut input);
    }

    let parent = if !extracted.is_null() { extracted } else { built };
    record_span(parent, &mut input);
    record_log(parent, &mut input);

    unsafe {
        dagnats_span_context_free(extracted);
        dagnats_span_context_free(built);
        assert_eq!(dagnats_telemetry_memory_clear(shared().telemetry), OK);
    }
});
