//! The only `serde_yaml` call site: a swap to another YAML serializer is a one-file change.
//!
//! serde_yaml quotes a string only when its own YAML 1.2 reading would take it for another
//! type. kubectl and every Go client read YAML 1.1 (`sigs.k8s.io/yaml`, a yaml.v2 fork), where
//! `yes`, `on`, `n`, `1:20`, `1_000` or `2001-12-14` are not strings. So every string scalar
//! that a YAML 1.1 or 1.2 reader would resolve to anything but a string is single-quoted
//! here: the tree is serialized to a [`Value`], each such string is swapped for a unique
//! placeholder that serde_yaml writes plain, and each placeholder in the text is replaced by
//! the quoted string. Everything else stays exactly as serde_yaml writes it.

use serde::Serialize;
use serde_yaml::{Mapping, Value};

/// One YAML document with a comment header.
#[must_use]
pub fn document<T: Serialize>(header: &str, value: &T) -> String {
    // Serializing plain data structures (strings, maps, numbers) cannot fail.
    let mut tree = serde_yaml::to_value(value)
        .unwrap_or_else(|error| unreachable!("YAML serialization: {error}"));
    let placeholder = Placeholder::free_in(&tree);
    let mut quoted = Vec::new();
    replace_ambiguous(&mut tree, &placeholder, &mut quoted);
    let body = serde_yaml::to_string(&tree)
        .unwrap_or_else(|error| unreachable!("YAML serialization: {error}"));
    format!("# {header}\n{}", placeholder.restore(&body, &quoted))
}

/// Parses YAML back into a typed value (tests and `--check` tooling).
pub fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_yaml::from_str(text).map_err(|error| error.to_string())
}

/// `PREFIX<index>_` stands for the quoted string number `index`; the prefix occurs in no
/// string of the tree, so every occurrence in the text is one of ours.
struct Placeholder {
    prefix: String,
}

impl Placeholder {
    fn free_in(tree: &Value) -> Self {
        let mut prefix = String::from("yamlquoted_");
        while any_string(tree, &|s| s.contains(&prefix)) {
            prefix.push('_');
        }
        Self { prefix }
    }

    fn token(&self, index: usize) -> String {
        format!("{}{index}_", self.prefix)
    }

    fn restore(&self, text: &str, quoted: &[String]) -> String {
        if quoted.is_empty() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len() + quoted.len() * 2);
        let mut rest = text;
        while let Some(at) = rest.find(&self.prefix) {
            out.push_str(&rest[..at]);
            let after = &rest[at + self.prefix.len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let string = after[..digits]
                .parse::<usize>()
                .ok()
                .filter(|_| after[digits..].starts_with('_'))
                .and_then(|index| quoted.get(index));
            if let Some(string) = string {
                out.push('\'');
                out.push_str(&string.replace('\'', "''"));
                out.push('\'');
                rest = &after[digits + 1..];
            } else {
                // Unreachable: the prefix occurs in no string of the tree.
                out.push_str(&self.prefix);
                rest = after;
            }
        }
        out.push_str(rest);
        out
    }
}

fn any_string(value: &Value, test: &dyn Fn(&str) -> bool) -> bool {
    match value {
        Value::String(s) => test(s),
        Value::Sequence(items) => items.iter().any(|item| any_string(item, test)),
        Value::Mapping(map) => map
            .iter()
            .any(|(key, value)| any_string(key, test) || any_string(value, test)),
        Value::Tagged(tagged) => any_string(&tagged.value, test),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

fn replace_ambiguous(value: &mut Value, placeholder: &Placeholder, quoted: &mut Vec<String>) {
    match value {
        Value::String(s) if resolves_to_non_string(s) => {
            let token = placeholder.token(quoted.len());
            quoted.push(std::mem::replace(s, token));
        }
        Value::Sequence(items) => {
            for item in items {
                replace_ambiguous(item, placeholder, quoted);
            }
        }
        Value::Mapping(map) => {
            let entries = std::mem::take(map);
            let mut rebuilt = Mapping::with_capacity(entries.len());
            for (mut key, mut value) in entries {
                replace_ambiguous(&mut key, placeholder, quoted);
                replace_ambiguous(&mut value, placeholder, quoted);
                rebuilt.insert(key, value);
            }
            *map = rebuilt;
        }
        Value::Tagged(tagged) => replace_ambiguous(&mut tagged.value, placeholder, quoted),
        Value::String(_) | Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Whether a plain (unquoted) scalar would be read as anything but a string by a YAML 1.1
/// reader (the types of yaml.org/type: bool, null, int, float, timestamp, merge, value; and
/// Go's yaml.v2, which also takes what `strconv` parses as a number) or a YAML 1.2 reader
/// (the core schema). Errs on the side of quoting: a quoted string is always a string.
#[must_use]
pub fn resolves_to_non_string(s: &str) -> bool {
    is_word(s) || is_number(s) || is_timestamp(s)
}

/// Null, booleans, infinity, not-a-number, `<<` (merge) and `=` (value) in YAML 1.1 and the
/// 1.2 core schema.
const WORDS: [&str; 35] = [
    "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
    "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
    ".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN", "<<", "=",
];

fn is_word(s: &str) -> bool {
    WORDS.contains(&s)
}

/// Integers and floats in any base or notation either version (or Go) accepts: decimal with
/// `_` separators, `0b`/`0o`/`0x` and leading-zero octal, sexagesimal (`1:20`, `1:20.5`),
/// decimals with a fraction or an exponent (`1.5`, `.5`, `1e3`, and `1.0.0`, which YAML
/// 1.1's float pattern matches), signed infinities and hexadecimal floats.
fn is_number(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() {
        return false;
    }
    let signed = body.len() < s.len();
    // `+.inf`, `-Infinity`, `+nan`: YAML 1.1 and Go's ParseFloat.
    if signed && ["inf", "infinity", "nan", ".inf"].contains(&body.to_ascii_lowercase().as_str()) {
        return true;
    }
    let lower = body.to_ascii_lowercase();
    if let Some(digits) = lower
        .strip_prefix("0x")
        .or_else(|| lower.strip_prefix("0o"))
        .or_else(|| lower.strip_prefix("0b"))
    {
        return !digits.is_empty()
            && digits
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b'_' | b'.' | b'p' | b'+' | b'-'));
    }
    if body.contains(':') {
        return is_sexagesimal(body);
    }
    is_decimal(body)
}

/// `[0-9][0-9_]*(:[0-9][0-9]?)+` with an optional fraction on the last part.
fn is_sexagesimal(body: &str) -> bool {
    let mut parts = body.split(':');
    let first = parts.next().unwrap_or_default();
    if !first.starts_with(|c: char| c.is_ascii_digit())
        || !first.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    let last = rest.len().saturating_sub(1);
    rest.iter().enumerate().all(|(index, part)| {
        let (whole, fraction) = match part.split_once('.') {
            Some((whole, fraction)) if index == last => (whole, fraction),
            _ => (*part, ""),
        };
        (1..=2).contains(&whole.len())
            && whole.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    })
}

/// A mantissa of digits, `_` and `.` holding at least one digit or dot (YAML 1.1's
/// `([0-9][0-9_]*)?\.[0-9.]*` matches `1.0.0` and `.`), then an optional exponent.
fn is_decimal(body: &str) -> bool {
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let mantissa_ok = !mantissa.is_empty()
        && !mantissa.starts_with('_')
        && mantissa
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'_' | b'.'));
    let has_digit = mantissa.bytes().any(|b| b.is_ascii_digit());
    match exponent {
        None => mantissa_ok,
        Some(exponent) => {
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            mantissa_ok
                && has_digit
                && !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        }
    }
}

/// YAML 1.1 timestamps: `YYYY-M-D`, optionally followed by a time (`T`, `t`, or spaces).
fn is_timestamp(s: &str) -> bool {
    let bytes = s.as_bytes();
    let Some(year) = bytes.get(..4) else {
        return false;
    };
    if !year.iter().all(u8::is_ascii_digit) || bytes.get(4) != Some(&b'-') {
        return false;
    }
    let mut at = 5;
    for separator in [Some(b'-'), None] {
        let digits = bytes[at..]
            .iter()
            .take(2)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return false;
        }
        at += digits;
        if let Some(separator) = separator {
            if bytes.get(at) != Some(&separator) {
                return false;
            }
            at += 1;
        }
    }
    matches!(bytes.get(at), None | Some(b'T' | b't' | b' ' | b'\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scalar_yaml_1_1_or_1_2_reads_as_another_type_is_ambiguous() {
        for s in [
            "",
            "~",
            "null",
            "NULL",
            "y",
            "Y",
            "n",
            "N",
            "yes",
            "Yes",
            "NO",
            "on",
            "On",
            "OFF",
            "true",
            "False",
            "<<",
            "=",
            "0",
            "42",
            "-7",
            "+7",
            "0755",
            "0o17",
            "0O17",
            "0x1F",
            "0X1f",
            "0b101",
            "-0b1",
            "1_000",
            "1:20",
            "190:20:30",
            "1:20.5",
            "1.5",
            ".5",
            "1.",
            "1e3",
            "1E+3",
            "1.5e-3",
            "6.8523015e+5",
            ".inf",
            "-.inf",
            "+.INF",
            ".NaN",
            "+inf",
            "-Infinity",
            "0x1p-2",
            "1.0.0",
            "3.17.2",
            "0.0.0.0",
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10 -5",
            "2002-1-2",
        ] {
            assert!(resolves_to_non_string(s), "{s:?} should be quoted");
        }
    }

    #[test]
    fn plain_words_names_and_quantities_stay_plain() {
        for s in [
            "mlflow",
            "yesterday",
            "online",
            "nope",
            "500m",
            "1Gi",
            "v1",
            "apps/v1",
            "team-a",
            "europe-west3",
            "127.0.0.1:5432",
            "10.0.0.0/8",
            "1.0.0-rc1",
            "2001-12",
            "e3",
            "inf",
            "Infinity",
            "nan",
            "_1",
            "1-2",
            "0x",
            "::1",
            "a:1",
        ] {
            assert!(!resolves_to_non_string(s), "{s:?} should stay plain");
        }
    }

    #[test]
    fn ambiguous_strings_are_single_quoted_keys_and_values_alike() {
        let mut map = std::collections::BTreeMap::new();
        map.insert("on", vec!["yes", "mlflow", "1:20", "it's"]);
        map.insert("name", vec!["0755"]);
        assert_eq!(
            document("h", &map),
            "# h\nname:\n- '0755'\n'on':\n- 'yes'\n- mlflow\n- '1:20'\n- it's\n"
        );
    }

    #[test]
    fn a_string_that_looks_like_a_placeholder_is_left_alone() {
        let map = std::collections::BTreeMap::from([("yamlquoted_0_", "yes")]);
        assert_eq!(document("h", &map), "# h\nyamlquoted_0_: 'yes'\n");
    }
}
