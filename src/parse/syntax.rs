//! Diagnostics for TOML that does not parse: what went wrong, said in terms of the line the
//! user wrote, and the fix for the mistakes people make (YAML habits, unquoted values,
//! typographic quotes, unclosed headers, keys set twice).

use std::collections::HashMap;
use std::ops::Range;

use crate::diag::{Code, Diagnostic, shown};

use super::example_of_bare_key;

/// How deep the TOML parser reads: arrays and inline tables nested in one another, and the
/// parts of a dotted key (`toml`'s own limit; a test checks it).
pub const DEPTH_LIMIT: usize = 80;

/// What the diagnostics of one file's errors build once, on the first error that needs it.
#[derive(Default)]
pub struct Context<'a> {
    definitions: Option<Definitions<'a>>,
    /// The parts of the dotted keys that cross [`DEPTH_LIMIT`], in the order the parser
    /// reports them.
    deep_keys: Option<std::vec::IntoIter<Range<usize>>>,
}

/// The diagnostic for one error of the TOML parser: `duplicate-key` or `toml-syntax`.
pub fn diagnostic<'a>(
    text: &'a str,
    error: &toml::de::Error,
    context: &mut Context<'a>,
) -> Diagnostic {
    let message = error.message().trim().replace('\n', ", ");
    // The parser reports a dotted key of too many parts without a place.
    if message == "recursion limit" {
        let part = context
            .deep_keys
            .get_or_insert_with(|| deep_keys(text).into_iter())
            .next();
        return too_deep_key(part.unwrap_or(0..0));
    }
    let span = error.span().unwrap_or(0..0);
    let span = span.start.min(text.len())..span.end.min(text.len());
    let line = line_at(text, span.start);
    if message.starts_with("duplicate key") {
        let definitions = context
            .definitions
            .get_or_insert_with(|| Definitions::new(text));
        return duplicate(text, span, &line, definitions);
    }
    // An empty span is drawn on the character it points at.
    let span = if span.is_empty() {
        let width = text[span.start..].chars().next().map_or(0, char::len_utf8);
        span.start..span.start + width
    } else {
        span
    };
    if message.starts_with("cannot recurse further") {
        return too_deep_value(span);
    }
    let (message, label, help) = explain(&message, &text[line.clone()], &text[span.clone()]);
    Diagnostic::error(Code::TomlSyntax, span, format!("invalid TOML: {message}"))
        .label(label)
        .help(help)
}

/// An array or inline table nested past [`DEPTH_LIMIT`], at its opening bracket.
fn too_deep_value(span: Range<usize>) -> Diagnostic {
    Diagnostic::error(
        Code::TomlSyntax,
        span,
        format!("arrays and inline tables are nested more than {DEPTH_LIMIT} deep"),
    )
    .label(format!("level {}", DEPTH_LIMIT + 1))
    .help(
        "no stack key takes a value nested deeper than a list of strings, e.g. `allow = \
         [\"203.0.113.0/24\"]`: remove the extra brackets or braces",
    )
}

/// A dotted key of more than [`DEPTH_LIMIT`] parts, at the first part past it.
fn too_deep_key(span: Range<usize>) -> Diagnostic {
    let parts = super::keys::max_parts();
    Diagnostic::error(
        Code::TomlSyntax,
        span,
        format!("a dotted key has more than {DEPTH_LIMIT} parts"),
    )
    .label(format!("part {}", DEPTH_LIMIT + 1))
    .help(format!(
        "no stack key has more than {parts} parts, e.g. `server.replicas`: write the key as the \
         reference names it, under its `[table]` header"
    ))
}

/// The part of each dotted key that crosses [`DEPTH_LIMIT`], in document order: the file
/// parsed again into `toml_parser`'s events, as `toml` parses it (arrays and inline tables
/// past the limit skipped), and the simple keys joined by `.` counted.
fn deep_keys(text: &str) -> Vec<Range<usize>> {
    use toml_parser::parser::{EventKind, RecursionGuard, ValidateWhitespace};
    let source = toml_parser::Source::new(text);
    let tokens = source.lex().into_vec();
    let mut events = Vec::new();
    let mut whitespace = ValidateWhitespace::new(&mut events, source);
    let limit = u32::try_from(DEPTH_LIMIT).unwrap_or(u32::MAX);
    let mut guard = RecursionGuard::new(&mut whitespace, limit);
    toml_parser::parser::parse_document(&tokens, &mut guard, &mut ());
    let mut found = Vec::new();
    // The parts of the key being read, and whether a `.` was read since the last part.
    let (mut parts, mut dotted) = (0usize, false);
    for event in &events {
        match event.kind() {
            EventKind::SimpleKey => {
                parts = if dotted { parts + 1 } else { 1 };
                dotted = false;
                if parts == DEPTH_LIMIT + 1 {
                    let span = event.span();
                    found.push(span.start()..span.end());
                }
            }
            EventKind::KeySep => dotted = true,
            EventKind::Whitespace => {}
            _ => (parts, dotted) = (0, false),
        }
    }
    found
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
            Code::DuplicateKey,
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
        Code::DuplicateKey,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnostics(text: &str) -> Vec<Diagnostic> {
        let (_, errors) = toml::de::DeTable::parse_recoverable(text);
        let mut context = Context::default();
        errors
            .iter()
            .map(|error| diagnostic(text, error, &mut context))
            .collect()
    }

    fn dotted(parts: usize) -> String {
        vec!["a"; parts].join(".")
    }

    #[test]
    fn the_depth_limit_is_the_parsers() {
        let nested = |depth: usize| format!("a = {}{}\n", "[".repeat(depth), "]".repeat(depth));
        assert!(diagnostics(&nested(DEPTH_LIMIT)).is_empty());
        assert_eq!(diagnostics(&nested(DEPTH_LIMIT + 1)).len(), 1);
        assert!(diagnostics(&format!("{} = 1\n", dotted(DEPTH_LIMIT))).is_empty());
        assert_eq!(
            diagnostics(&format!("{} = 1\n", dotted(DEPTH_LIMIT + 1))).len(),
            1
        );
    }

    #[test]
    fn a_value_nested_too_deep_is_placed_at_the_bracket_past_the_limit() {
        let text = format!("x = 1\na = {}{}\n", "[{b = ".repeat(60), "}]".repeat(60));
        let found = diagnostics(&text);
        assert_eq!(found.len(), 1);
        let at = found[0].span.start;
        // Each `[{b = ` opens two levels: the 41st opens level 81 with its `[`.
        assert_eq!(at, "x = 1\na = ".len() + 40 * "[{b = ".len());
        assert_eq!(&text[at..=at], "[");
    }

    /// The line and text of each diagnostic's place.
    fn places(text: &str) -> Vec<(usize, String)> {
        diagnostics(text)
            .iter()
            .map(|d| {
                assert!(d.message.contains("more than 80 parts"), "{d:?}");
                let line = text[..d.span.start].matches('\n').count() + 1;
                (line, text[d.span.clone()].to_owned())
            })
            .collect()
    }

    #[test]
    fn dotted_keys_too_deep_are_placed_at_the_part_past_the_limit_in_order() {
        let deep = format!("{}.b", dotted(DEPTH_LIMIT));
        // The parser goes on after a table header, and stops reading at a key-value.
        let text = format!("x = 1\n[{deep}]\n\"q.uoted\" . {deep} = 1\n{deep} = 2\n");
        assert_eq!(places(&text), [(2, "b".into()), (3, "a".into())]);
        let text = format!("[t]\ny = {{ z = 1, {deep} = 2 }}\n");
        assert_eq!(places(&text), [(2, "b".into())]);
    }
}
