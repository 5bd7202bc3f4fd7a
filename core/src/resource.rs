//! Resource attributes from the environment, as the OpenTelemetry specification says.
//!
//! - `OTEL_RESOURCE_ATTRIBUTES` is a comma-separated list of `key=value` pairs. Keys and
//!   values are percent-decoded (`%2C` is a comma, `%3D` an equals sign, `%20` a space)
//!   and white space around them is trimmed. A value may itself contain `=`: only the
//!   first one separates the key.
//! - `OTEL_SERVICE_NAME`, when set and not blank, is the `service.name` and wins over a
//!   `service.name` inside `OTEL_RESOURCE_ATTRIBUTES`.
//!
//! Errors never stop a program: the specification lets an SDK discard the whole variable
//! on a decoding error, but one typo would then lose every attribute, so a bad entry (no
//! `=`, an empty key, a `%` not followed by two hex digits, bytes that are not UTF-8) is
//! skipped alone and described in a warning returned to the caller, which decides how to
//! report it. Empty entries (`a=1,,b=2`, a trailing comma) are not errors and are skipped
//! silently. When a key repeats, the last value wins, at the place of the first.
//!
//! ```
//! use dagnats_observe::resource::parse_resource_attributes;
//!
//! let (attributes, warnings) = parse_resource_attributes("deployment.environment=prod, team = a%20b,oops");
//! assert_eq!(attributes, vec![
//!     ("deployment.environment".to_owned(), "prod".to_owned()),
//!     ("team".to_owned(), "a b".to_owned()),
//! ]);
//! assert_eq!(warnings.len(), 1); // "oops" has no '='
//! ```

/// The variable holding the resource attributes.
pub const RESOURCE_ATTRIBUTES_ENV: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// The variable holding the service name.
pub const SERVICE_NAME_ENV: &str = "OTEL_SERVICE_NAME";
/// The resource attribute naming the service.
pub const SERVICE_NAME_KEY: &str = "service.name";

/// Parses an `OTEL_RESOURCE_ATTRIBUTES` value: the attributes in first-seen order, and one
/// warning per entry skipped (see the [module documentation](self) for the rules).
pub fn parse_resource_attributes(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut attributes: Vec<(String, String)> = Vec::new();
    let mut warnings = Vec::new();
    for entry in text.split(',') {
        if entry.trim().is_empty() {
            continue;
        }
        let Some((raw_key, raw_value)) = entry.split_once('=') else {
            warnings.push(format!("{RESOURCE_ATTRIBUTES_ENV}: entry {:?} has no '=', skipped", entry.trim()));
            continue;
        };
        let decoded = percent_decode(raw_key.trim()).and_then(|k| Ok((k, percent_decode(raw_value.trim())?)));
        let (key, value) = match decoded {
            Ok(kv) => kv,
            Err(why) => {
                warnings.push(format!("{RESOURCE_ATTRIBUTES_ENV}: entry {:?} {why}, skipped", entry.trim()));
                continue;
            }
        };
        // Trimmed again after decoding: "%20key" is still a key with white space around it.
        let key = key.trim().to_owned();
        if key.is_empty() {
            warnings.push(format!("{RESOURCE_ATTRIBUTES_ENV}: entry {:?} has an empty key, skipped", entry.trim()));
            continue;
        }
        match attributes.iter_mut().find(|(k, _)| *k == key) {
            Some(existing) => existing.1 = value,
            None => attributes.push((key, value)),
        }
    }
    (attributes, warnings)
}

/// The resource attributes that `get` (an environment lookup, such as
/// `|k| std::env::var(k).ok()`) describes: [`RESOURCE_ATTRIBUTES_ENV`] parsed, then
/// [`SERVICE_NAME_ENV`] as `service.name` when it is set and not blank (it replaces a
/// `service.name` from the list). Returns the attributes and the warnings of entries
/// skipped.
pub fn resource_attributes_from(get: impl Fn(&str) -> Option<String>) -> (Vec<(String, String)>, Vec<String>) {
    let (mut attributes, warnings) =
        get(RESOURCE_ATTRIBUTES_ENV).map(|t| parse_resource_attributes(&t)).unwrap_or_default();
    if let Some(service) = get(SERVICE_NAME_ENV).map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
        match attributes.iter_mut().find(|(k, _)| k == SERVICE_NAME_KEY) {
            Some(existing) => existing.1 = service,
            None => attributes.push((SERVICE_NAME_KEY.to_owned(), service)),
        }
    }
    (attributes, warnings)
}

/// [`resource_attributes_from`] this process's environment.
pub fn resource_attributes_from_env() -> (Vec<(String, String)>, Vec<String>) {
    resource_attributes_from(|k| std::env::var(k).ok())
}

/// `%XX` sequences to bytes; the result must be UTF-8. Everything else is kept as is
/// (`+` is not a space here: the variable follows the baggage encoding, not forms).
fn percent_decode(s: &str) -> Result<String, &'static str> {
    if !s.contains('%') {
        return Ok(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            // from_str_radix accepts a leading '+', which is not a hex digit.
            match hex {
                Some(b) if bytes[i + 1] != b'+' => out.push(b),
                _ => return Err("has a '%' not followed by two hex digits"),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "does not decode to UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn pairs_are_split_trimmed_and_decoded() {
        let (attrs, warnings) = parse_resource_attributes(
            " service.namespace = shop ,deployment.environment=prod,k8s.pod.name=a%2Cb%3Dc,note= two%20words ,eq=a=b",
        );
        assert_eq!(
            attrs,
            pairs(&[
                ("service.namespace", "shop"),
                ("deployment.environment", "prod"),
                ("k8s.pod.name", "a,b=c"),
                ("note", "two words"),
                ("eq", "a=b"),
            ])
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn keys_are_decoded_too_and_utf8_survives() {
        let (attrs, warnings) = parse_resource_attributes("my%20key=caf%C3%A9,plain=été");
        assert_eq!(attrs, pairs(&[("my key", "café"), ("plain", "été")]));
        assert!(warnings.is_empty());
    }

    #[test]
    fn bad_entries_are_skipped_with_a_warning_each() {
        let (attrs, warnings) =
            parse_resource_attributes("a=1,noequals,=empty,b=%zz,c=%4,d=%+1,e=%FF,  ,,f=,g=2,%20=blank-after-decoding");
        assert_eq!(attrs, pairs(&[("a", "1"), ("f", ""), ("g", "2")]));
        assert_eq!(warnings.len(), 7, "{warnings:#?}");
        assert!(warnings[0].contains("noequals") && warnings[0].contains("no '='"));
        assert!(warnings[1].contains("empty key"));
        assert!(warnings[2].contains("%zz") && warnings[2].contains("hex"));
        assert!(warnings[5].contains("UTF-8"));
        assert!(warnings.iter().all(|w| w.starts_with(RESOURCE_ATTRIBUTES_ENV)));
    }

    #[test]
    fn empty_and_blank_lists_give_nothing() {
        for text in ["", " ", ",", " , ,"] {
            assert_eq!(parse_resource_attributes(text), (vec![], vec![]), "{text:?}");
        }
    }

    #[test]
    fn a_repeated_key_keeps_the_last_value_in_the_first_place() {
        let (attrs, _) = parse_resource_attributes("a=1,b=2,a=3");
        assert_eq!(attrs, pairs(&[("a", "3"), ("b", "2")]));
    }

    #[test]
    fn the_service_name_variable_wins() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let (attrs, _) = resource_attributes_from(env(&[
            (RESOURCE_ATTRIBUTES_ENV, "service.name=from-list,team=a"),
            (SERVICE_NAME_ENV, " checkout "),
        ]));
        assert_eq!(attrs, pairs(&[("service.name", "checkout"), ("team", "a")]));

        let (attrs, _) = resource_attributes_from(env(&[(SERVICE_NAME_ENV, "only-name")]));
        assert_eq!(attrs, pairs(&[("service.name", "only-name")]));

        // A blank OTEL_SERVICE_NAME is as good as none: the list's service.name stays.
        let (attrs, warnings) = resource_attributes_from(env(&[
            (RESOURCE_ATTRIBUTES_ENV, "service.name=from-list,bad"),
            (SERVICE_NAME_ENV, "  "),
        ]));
        assert_eq!(attrs, pairs(&[("service.name", "from-list")]));
        assert_eq!(warnings.len(), 1);

        assert_eq!(resource_attributes_from(|_| None), (vec![], vec![]));
    }
}
