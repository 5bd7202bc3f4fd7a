//! The intern table stops at its limit (its own process: the table is process-wide).

use dagnats_observe::intern;

#[test]
fn past_max_entries_names_are_not_interned_and_earlier_ones_still_are() {
    let first = intern::intern("name-0").unwrap();
    for i in 1..intern::MAX_ENTRIES {
        assert!(intern::intern(&format!("name-{i}")).is_some(), "name {i} fits");
    }
    assert_eq!(intern::intern("one-too-many"), None);
    assert_eq!(intern::intern("name-0"), Some(first));
    assert_eq!(intern::text(first), Some("name-0"));
    assert!(matches!(intern::str("one-too-many"), std::borrow::Cow::Owned(_)));
}
