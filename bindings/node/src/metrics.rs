//! `Metrics` and its instruments: `Counter`, `Gauge`, `Histogram`. Each call publishes
//! one metric point; tags are a plain object of strings.

use dagnats_observe as core;
use napi::bindgen_prelude::Unknown;
use napi::sys;
use napi_derive::napi;

use crate::convert::{self, raw};

/// Creates metric instruments for one service (`telemetry.metrics`).
#[napi]
pub struct Metrics {
    pub(crate) inner: core::Metrics,
}

/// Reads an instrument's value and tags.
fn point(
    env: sys::napi_env,
    value: sys::napi_value,
    tags: Option<Unknown>,
) -> napi::Result<(f64, Vec<(String, String)>)> {
    let value = convert::number(env, value, &|| "value".to_owned())?;
    let tags = match tags {
        Some(t) => convert::tags(env, raw(&t).1)?,
        None => Vec::new(),
    };
    Ok((value, tags))
}

fn borrowed(tags: &[(String, String)]) -> Vec<(&str, &str)> {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[napi]
impl Metrics {
    /// A monotonic counter named `name` (the name may contain dots).
    #[napi(catch_unwind, ts_args_type = "name: string")]
    pub fn counter(&self, name: Unknown) -> napi::Result<Counter> {
        let (env, name) = raw(&name);
        let name = convert::string(env, name, &|| "metric name".to_owned())?;
        Ok(Counter { inner: self.inner.counter(&name) })
    }

    /// A gauge named `name`.
    #[napi(catch_unwind, ts_args_type = "name: string")]
    pub fn gauge(&self, name: Unknown) -> napi::Result<Gauge> {
        let (env, name) = raw(&name);
        let name = convert::string(env, name, &|| "metric name".to_owned())?;
        Ok(Gauge { inner: self.inner.gauge(&name) })
    }

    /// A histogram named `name`.
    #[napi(catch_unwind, ts_args_type = "name: string")]
    pub fn histogram(&self, name: Unknown) -> napi::Result<Histogram> {
        let (env, name) = raw(&name);
        let name = convert::string(env, name, &|| "metric name".to_owned())?;
        Ok(Histogram { inner: self.inner.histogram(&name) })
    }
}

/// A monotonic counter: each `add` publishes its increment.
#[napi]
pub struct Counter {
    inner: core::Counter,
}

#[napi]
impl Counter {
    /// Adds `value`; negative or non-finite increments are ignored (a counter only grows).
    #[napi(catch_unwind, ts_args_type = "value: number, tags?: Record<string, string>")]
    pub fn add(&self, value: Unknown, tags: Option<Unknown>) -> napi::Result<()> {
        let (env, value) = raw(&value);
        let (value, tags) = point(env, value, tags)?;
        self.inner.add(value, &borrowed(&tags));
        Ok(())
    }
}

/// A gauge: each `set` publishes the new level.
#[napi]
pub struct Gauge {
    inner: core::Gauge,
}

#[napi]
impl Gauge {
    /// Sets the level; non-finite values are ignored (JSON cannot carry them).
    #[napi(catch_unwind, ts_args_type = "value: number, tags?: Record<string, string>")]
    pub fn set(&self, value: Unknown, tags: Option<Unknown>) -> napi::Result<()> {
        let (env, value) = raw(&value);
        let (value, tags) = point(env, value, tags)?;
        self.inner.set(value, &borrowed(&tags));
        Ok(())
    }
}

/// A histogram: each `record` publishes one observation.
#[napi]
pub struct Histogram {
    inner: core::Histogram,
}

#[napi]
impl Histogram {
    /// Records one observation; non-finite values are ignored.
    #[napi(catch_unwind, ts_args_type = "value: number, tags?: Record<string, string>")]
    pub fn record(&self, value: Unknown, tags: Option<Unknown>) -> napi::Result<()> {
        let (env, value) = raw(&value);
        let (value, tags) = point(env, value, tags)?;
        self.inner.record(value, &borrowed(&tags));
        Ok(())
    }
}
