//! Diagnostics for TOML that does not parse: what went wrong, said in terms of the line the
//! user wrote, and the fix for the mistakes people make (YAML habits, unquoted values,
//! typographic quotes, unclosed headers, keys set twice).

use std::collections::HashMap;
use std::ops::Range;

use crate::diag::{Diagnostic, shown};

use super::example_of_bare_key;

/// The diagnostic for one error of the TOML parser: `duplicate-key` or `toml-syntax`.
/// `definitions` is built on the first duplicate and kept for the next ones.
pub fn diagnostic<'a>(
    text: &'a str,
    error: &toml::de::Error,
    definitions: &mut Option<Definitions<'a>>,
) -> Diagnostic {
    let span = error.span().unwrap_or(0..0);
    let span = span.start.min(text.len())..span.end.min(text.len());
    let line = line_at(text, span.start);
    let message = error.message().trim().replace('\n', ", ");
    if message.starts_with("duplicate key") {
        let definitions = definitions.get_or_insert_with(|| Definitions::new(text));
        return duplicate(text, span, &line, definitions);
    }
    // An empty span is drawn on the character it points at.
    let span = if span.is_empty() {
        let width = text[span.start..].chars().next().map_or(0, char::len_utf8);
        span.start..span.start + width
    } else {
        span
    };
    let (message, label, help) = explain(&message, &text[line.clone()], &text[span.clone()]);
    Diagnostic::error("toml-syntax", span, format!("invalid TOML: {message}"))
        .label(label)
        .help(help)
}

/// The byte range of the line holding `offset`, without its line break.
fn line_at(text: &str, offset: usize) -> Range<usize> {
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let end = if text[start..end].ends_with('\r') {
        end - 1
    } else {
        end
    };
    start..end
}

/// A value as it should be written: kept when it already is a TOML value, quoted otherwise.
fn as_value(value: &str) -> String {
    let value = value.trim();
    let is_value = value.starts_with(['"', '\'', '[', '{'])
        || matches!(value, "true" | "false")
        || value.parse::<f64>().is_ok();
    if is_value {
        value.to_owned()
    } else {
        format!("\"{}\"", value.trim_matches(['“', '”', '‘', '’']))
    }
}

fn explain(message: &str, line: &str, at: &str) -> (String, String, String) {
    let trimmed = line.trim();
    let generic = || {
        (
            lowercase_first(message),
            "here".to_owned(),
            "every line is `key = value`, a `[table]` header or a `# comment`; strings are \
             quoted: `key = \"value\"`"
                .to_owned(),
        )
    };
    if trimmed.contains(['“', '”', '‘', '’']) {
        let fixed = trimmed.replace(['“', '”'], "\"").replace(['‘', '’'], "'");
        return (
            "typographic quotes are not TOML quotes".into(),
            "a typographic quote".into(),
            format!("type plain quotes: `{}`", shown(&fixed)),
        );
    }
    if !trimmed.starts_with('[') && !trimmed.starts_with('#') {
        let yaml = trimmed.split_once(':').filter(|(key, _)| {
            !key.is_empty()
                && !key.contains(['=', '"', '\''])
                && key
                    .trim()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        });
        if let Some((key, value)) = yaml {
            let key = key.trim();
            let value = if value.trim().is_empty() {
                example_of_bare_key(key).unwrap_or("\"…\"").to_owned()
            } else {
                as_value(value)
            };
            return (
                format!("expected `=` after the key `{}`", shown(key)),
                "`:` is YAML".into(),
                format!(
                    "TOML writes `key = value`, not `key: value`: `{} = {}`",
                    shown(key),
                    shown(&value)
                ),
            );
        }
    }
    let assignment = trimmed
        .split_once('=')
        .map(|(key, value)| (key.trim(), value.trim()));
    if message.starts_with("string values must be quoted") {
        return match assignment {
            Some((key, "")) => (
                format!("`{}` has no value", shown(key)),
                "a value goes after `=`".into(),
                format!(
                    "write the value after `=`, e.g. `{} = {}`",
                    shown(key),
                    example_of_bare_key(key).unwrap_or("\"…\"")
                ),
            ),
            Some((key, value)) => (
                format!("the value of `{}` is not quoted", shown(key)),
                "a string without quotes".into(),
                format!("quote it: `{} = {}`", shown(key), shown(&as_value(value))),
            ),
            None => generic(),
        };
    }
    if message.starts_with("invalid basic string") || message.starts_with("invalid literal string")
    {
        let quote = if message.starts_with("invalid basic") {
            "\""
        } else {
            "'"
        };
        return (
            format!("the string has no closing `{quote}`"),
            "the line ends inside the string".into(),
            format!(
                "end the string with `{quote}` on the same line (a string over several lines is \
                 written `{quote}{quote}{quote}…{quote}{quote}{quote}`)"
            ),
        );
    }
    if message.starts_with("unclosed table") || message.starts_with("unclosed array of tables") {
        let name = trimmed
            .trim_start_matches('[')
            .split(|c: char| c == ']' || c.is_whitespace())
            .next()
            .unwrap_or_default();
        return (
            "the table header has no closing `]`".into(),
            "expected `]`".into(),
            format!("close the header: `[{}]`", shown(name)),
        );
    }
    if message.starts_with("unclosed array") {
        return (
            "the array has no closing `]`".into(),
            "expected `]` or `,`".into(),
            "close the array on the line where it starts, e.g. `allow = [\"203.0.113.0/24\"]`"
                .into(),
        );
    }
    if message.starts_with("key with no value") {
        let key = shown(at.trim());
        return (
            format!(
                "expected `=` after `{}`",
                shown(trimmed.split_whitespace().next().unwrap_or(&key))
            ),
            "expected `=`".into(),
            "every line is `key = value`, a `[table]` header or a `# comment`; a note to \
             yourself starts with `#`"
                .into(),
        );
    }
    generic()
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

/// The name of the table a header line opens: `server` for `[server]`, `a.b` for `[[a.b]]`.
fn header_name(line: &str) -> Option<&str> {
    let inner = line.trim().strip_prefix('[')?;
    let inner = inner.strip_prefix('[').unwrap_or(inner);
    let end = inner.find(']')?;
    Some(inner[..end].trim())
}

/// The key an assignment line sets: `replicas` for `replicas = 2`.
fn assigned_key(line: &str) -> Option<&str> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with(['#', '['])).then_some(key)
}

/// Where each table and key of a file is first defined, gathered in one pass over its lines
/// (only when a duplicate is reported), so that each duplicate is explained in constant time.
#[derive(Debug, Default)]
pub struct Definitions<'a> {
    /// The start offset and name of each table header line, in order.
    headers: Vec<(usize, &'a str)>,
    /// The first place a table name is defined: by its header, or by a dotted key.
    tables: HashMap<&'a str, (Range<usize>, &'static str)>,
    /// The first place each key is set, by the header offset of its table (`None`: the top).
    keys: HashMap<(Option<usize>, &'a str), Range<usize>>,
}

impl<'a> Definitions<'a> {
    #[must_use]
    pub fn new(text: &'a str) -> Self {
        let mut definitions = Self::default();
        let mut table = None;
        let mut start = 0;
        for part in text.split_inclusive('\n') {
            let line = part.trim_end_matches(['\n', '\r']);
            if let Some(name) = header_name(line) {
                table = Some(start);
                definitions.headers.push((start, name));
                if let Some(span) = place(start, line, name) {
                    definitions
                        .tables
                        .entry(name)
                        .or_insert((span, "first defined here"));
                }
            } else if let Some((key, span)) =
                assigned_key(line).and_then(|key| Some((key, place(start, line, key)?)))
            {
                definitions.keys.entry((table, key)).or_insert(span.clone());
                for (dot, _) in key.match_indices('.') {
                    definitions
                        .tables
                        .entry(&key[..dot])
                        .or_insert((span.clone(), "already defined by this dotted key"));
                }
            }
            start += part.len();
        }
        definitions
    }

    /// The header offset and name of the table a line belongs to.
    fn table_of(&self, offset: usize) -> Option<(usize, &'a str)> {
        let index = self.headers.partition_point(|&(start, _)| start < offset);
        index.checked_sub(1).map(|i| self.headers[i])
    }
}

fn place(offset: usize, line: &str, needle: &str) -> Option<Range<usize>> {
    line.find(needle)
        .map(|i| offset + i..offset + i + needle.len())
}

/// A key or table defined a second time: both places, and which one to keep.
fn duplicate(
    text: &str,
    span: Range<usize>,
    line: &Range<usize>,
    definitions: &Definitions<'_>,
) -> Diagnostic {
    let this_line = &text[line.clone()];
    // A first definition on this very line is this one: there is no earlier one to show.
    let earlier = |first: &Range<usize>| first.start < line.start;
    if let Some(name) = header_name(this_line) {
        let first = definitions
            .tables
            .get(name)
            .filter(|(first, _)| earlier(first))
            .cloned();
        let mut diagnostic = Diagnostic::error(
            "duplicate-key",
            span,
            format!("the table `[{}]` is defined twice", shown(name)),
        )
        .label("defined again here")
        .help(format!(
            "a table may appear only once: merge the two into one `[{}]`",
            shown(name)
        ));
        if let Some((first, label)) = first {
            diagnostic = diagnostic.related(first, label);
        }
        return diagnostic;
    }
    let key = text[span.clone()]
        .trim()
        .trim_matches(['"', '\''])
        .to_owned();
    let table = definitions.table_of(line.start);
    let first = definitions
        .keys
        .get(&(table.map(|(start, _)| start), key.as_str()))
        .filter(|first| earlier(first))
        .cloned();
    let table = table.map(|(_, name)| name);
    let path = match table {
        Some(table) => format!("{table}.{key}"),
        None => key.clone(),
    };
    let mut diagnostic = Diagnostic::error(
        "duplicate-key",
        span,
        format!("`{}` is set twice", shown(&path)),
    )
    .label("set again here")
    .help(format!(
        "a key may be set only once: keep one `{} = …` and remove the other",
        shown(&key)
    ));
    if let Some(first) = first {
        diagnostic = diagnostic.related(first, "first set here");
    }
    diagnostic
}
