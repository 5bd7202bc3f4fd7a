//! Placeholder: the Node binding (issue 5).
