//! The logger: structured log records on the same collector as spans.
//!
//! Each record carries the trace and span ids of the span that was current when it was
//! written (the reference's logger never filled them), so a backend can show a span's logs.
//!
//! ```
//! use dagnats_observe::{Attribute, Context, Level, SpanOptions, Telemetry};
//!
//! let (tel, memory) = Telemetry::in_memory("docs");
//! let (cx, span) = tel.tracer.start(&Context::new(), "step", SpanOptions::new());
//! tel.logger.info(&cx, "step started", [Attribute::string("step_id", "build")]);
//! tel.logger.entry(Level::Error, "step failed").context(&cx).error("disk full").emit();
//! let logs = memory.logs();
//! assert_eq!(logs[0].span_id, Some(span.span_context().span_id));
//! assert_eq!(logs[1].error, "disk full");
//! ```

use std::sync::Arc;

use crate::attribute::{Attribute, Attributes};
use crate::context::Context;
use crate::propagation::SpanContext;
use crate::record::{Level, LogRecord, Record, Timestamp};
use crate::sink::Sink;

/// Writes log records for one service. Cheap to clone.
#[derive(Clone)]
pub struct Logger {
    service: Arc<str>,
    sink: Arc<dyn Sink>,
}

impl Logger {
    /// A logger for `service` delivering to `sink`.
    pub fn new(service: impl Into<Arc<str>>, sink: Arc<dyn Sink>) -> Self {
        Logger { service: service.into(), sink }
    }

    /// Starts a record with every option: fields, the current span, an error.
    pub fn entry(&self, level: Level, message: impl Into<String>) -> LogEntry<'_> {
        LogEntry {
            logger: self,
            record: LogRecord {
                level,
                message: message.into(),
                service: Arc::clone(&self.service),
                trace_id: None,
                span_id: None,
                fields: Attributes::new(),
                timestamp: Timestamp::now(),
                error: String::new(),
            },
        }
    }

    /// Writes a record at `level` linked to the span in `cx`.
    pub fn log(
        &self,
        cx: &Context,
        level: Level,
        message: impl Into<String>,
        fields: impl IntoIterator<Item = Attribute>,
    ) {
        self.entry(level, message).context(cx).fields(fields).emit();
    }

    /// A `trace` record.
    pub fn trace(&self, cx: &Context, message: impl Into<String>, fields: impl IntoIterator<Item = Attribute>) {
        self.log(cx, Level::Trace, message, fields);
    }
    /// A `debug` record.
    pub fn debug(&self, cx: &Context, message: impl Into<String>, fields: impl IntoIterator<Item = Attribute>) {
        self.log(cx, Level::Debug, message, fields);
    }
    /// An `info` record.
    pub fn info(&self, cx: &Context, message: impl Into<String>, fields: impl IntoIterator<Item = Attribute>) {
        self.log(cx, Level::Info, message, fields);
    }
    /// A `warn` record.
    pub fn warn(&self, cx: &Context, message: impl Into<String>, fields: impl IntoIterator<Item = Attribute>) {
        self.log(cx, Level::Warn, message, fields);
    }
    /// An `error` record.
    pub fn error(&self, cx: &Context, message: impl Into<String>, fields: impl IntoIterator<Item = Attribute>) {
        self.log(cx, Level::Error, message, fields);
    }
}

/// A log record being built; [`emit`](LogEntry::emit) sends it.
#[must_use = "a log entry is sent only by emit()"]
pub struct LogEntry<'a> {
    logger: &'a Logger,
    record: LogRecord,
}

impl LogEntry<'_> {
    /// Links the record to the current span of `cx`, if any.
    pub fn context(self, cx: &Context) -> Self {
        self.span(cx.span_context())
    }

    /// Links the record to `span`, if given.
    pub fn span(mut self, span: Option<&SpanContext>) -> Self {
        if let Some(sc) = span {
            self.record.trace_id = Some(sc.trace_id);
            self.record.span_id = Some(sc.span_id);
        }
        self
    }

    /// Adds structured fields.
    pub fn fields(mut self, fields: impl IntoIterator<Item = Attribute>) -> Self {
        self.record.fields.extend(fields);
        self
    }

    /// Adds one field.
    pub fn field(mut self, field: Attribute) -> Self {
        self.record.fields.set(field);
        self
    }

    /// Attaches an error message.
    pub fn error(mut self, error: impl Into<String>) -> Self {
        self.record.error = error.into();
        self
    }

    /// Overrides the timestamp (for records forwarded from another logging system).
    pub fn timestamp(mut self, timestamp: Timestamp) -> Self {
        self.record.timestamp = timestamp;
        self
    }

    /// Sends the record. Never blocks on the network.
    pub fn emit(self) {
        self.logger.sink.export(Record::Log(Box::new(self.record)));
    }
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logger").field("service", &self.service).finish()
    }
}
