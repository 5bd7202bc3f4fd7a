//! Reads criterion's own estimates back and prints how two benchmarks compare.

use std::path::PathBuf;

fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("criterion")
}

#[allow(dead_code)]
/// Criterion's mean estimate, in nanoseconds, of benchmark `id` ("group/function").
pub fn mean_ns(id: &str) -> Option<f64> {
    let path = criterion_dir().join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

/// Prints `ours` beside `theirs` and the speed-up.
#[allow(dead_code)] // each bench uses the helpers it needs
pub fn print_ratio(label: &str, ours: &str, theirs: &str, target: f64) {
    match (mean_ns(ours), mean_ns(theirs)) {
        (Some(a), Some(b)) => {
            let ratio = b / a;
            println!(
                "RATIO {label}: dagnats {a:.1} ns, opentelemetry_sdk {b:.1} ns -> {ratio:.2}x cheaper (target {target}x: {})",
                if ratio >= target { "met" } else { "NOT met" }
            );
        }
        _ => println!("RATIO {label}: no estimates (run without --test to measure)"),
    }
}
