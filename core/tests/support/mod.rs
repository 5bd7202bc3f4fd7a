//! Shared by the core's integration tests.

#![allow(dead_code)]

use dagnats_observe::{Attribute, Context, SpanOptions, Telemetry};

/// Ends `n` spans named `work` with `run_id` = `run` and an attribute `i` numbering them.
pub fn spans(tel: &Telemetry, n: usize, run: &'static str) {
    for i in 0..n {
        let (_, mut s) =
            tel.tracer.start(&Context::new(), "work", SpanOptions::new().attribute(Attribute::string("run_id", run)));
        s.set_attribute(Attribute::int("i", i as i64));
        s.end();
    }
}
