//! The only `serde_yaml` call site: a swap to another YAML serializer is a one-file change.

use serde::Serialize;

/// One YAML document with a comment header.
#[must_use]
pub fn document<T: Serialize>(header: &str, value: &T) -> String {
    // Serializing plain data structures (strings, maps, numbers) cannot fail.
    let body = serde_yaml::to_string(value)
        .unwrap_or_else(|error| unreachable!("YAML serialization: {error}"));
    format!("# {header}\n{body}")
}

/// Parses YAML back into a typed value (tests and `--check` tooling).
pub fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_yaml::from_str(text).map_err(|error| error.to_string())
}
