//! A sink that keeps records in memory, for tests.

use std::sync::Mutex;

use super::Sink;
use crate::record::{LogRecord, MetricPoint, Record, SpanRecord};

/// Keeps every record in memory, in the order records finished. Nothing leaves the process.
#[derive(Debug, Default)]
pub struct MemorySink {
    records: Mutex<Vec<Record>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        MemorySink::default()
    }

    fn collect<T: Clone>(&self, pick: impl Fn(&Record) -> Option<&T>) -> Vec<T> {
        self.lock().iter().filter_map(|r| pick(r).cloned()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Record>> {
        // A panic while holding this lock cannot leave the Vec inconsistent.
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Finished spans, in end order.
    pub fn spans(&self) -> Vec<SpanRecord> {
        self.collect(Record::as_span)
    }

    /// Log records.
    pub fn logs(&self) -> Vec<LogRecord> {
        self.collect(Record::as_log)
    }

    /// Metric points.
    pub fn metrics(&self) -> Vec<MetricPoint> {
        self.collect(Record::as_metric)
    }

    /// Aggregated engine metrics (exported by instruments that aggregate, in the engine
    /// format).
    pub fn engine_metrics(&self) -> Vec<crate::engine::EngineMetric> {
        self.collect(Record::as_engine_metric)
    }

    /// Every record, in order.
    pub fn records(&self) -> Vec<Record> {
        self.lock().clone()
    }

    /// Removes and returns every record.
    pub fn take(&self) -> Vec<Record> {
        std::mem::take(&mut *self.lock())
    }

    /// Forgets every record.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

impl Sink for MemorySink {
    fn export(&self, record: Record) {
        self.lock().push(record);
    }
}
