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
    match js.get_stream(STREAM_NAME).await {
        Ok(_) => Ok(()),
        Err(_) => match js.create_stream(stream_config()).await {
            Ok(_) => Ok(()),
            // Another producer may have created it between our two calls.
            Err(e) => js.get_stream(STREAM_NAME).await.map(|_| ()).map_err(|_| e.to_string()),
        },
    }
}
