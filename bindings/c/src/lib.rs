//! Placeholder: the C ABI (issue 6).
