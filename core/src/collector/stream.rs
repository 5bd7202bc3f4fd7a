//! The TELEMETRY stream: its settings, and making sure it exists.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

/// Stream name.
pub const STREAM_NAME: &str = "TELEMETRY";
/// Subjects the stream captures.
pub const STREAM_SUBJECTS: &str = "telemetry.>";

/// The stream's settings, as the wire contract fixes them.
pub fn stream_config() -> stream::Config {
    stream::Config {
        name: STREAM_NAME.to_owned(),
        subjects: vec![STREAM_SUBJECTS.to_owned()],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        max_age: Duration::from_secs(7 * 24 * 3600),
        max_bytes: 1 << 30,
        duplicate_window: Duration::from_secs(5),
        ..Default::default()
    }
}

/// Creates the stream when it is missing; an existing stream's settings are never
/// touched.
pub async fn ensure_stream(js: &jetstream::Context) -> Result<(), String> {
    ensure(js, stream_config()).await.map(|_| ())
}

/// Gets the stream `config` names, creating it with `config` when it is missing; an
/// existing stream's settings are never touched. Shared by every stream this project
/// keeps (TELEMETRY, and the bridge's dead letters and advisories).
pub async fn ensure(js: &jetstream::Context, config: stream::Config) -> Result<stream::Stream, String> {
    let name = config.name.clone();
    if let Ok(s) = js.get_stream(&name).await {
        return Ok(s);
    }
    match js.create_stream(config).await {
        Ok(s) => Ok(s),
        // Another process may have created it between the two calls.
        Err(e) => js.get_stream(&name).await.map_err(|_| format!("cannot make sure stream {name} exists: {e}")),
    }
}
