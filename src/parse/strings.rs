//! Where the characters of a TOML string value were written, for diagnostics that point at
//! one character of a value (an escaped newline, a `$`).

/// Where each character of a string value was written: for every decoded character, its
/// byte range in `literal` (the string as written, quotes included). An escape such as
/// `\n` maps to its whole escape sequence. `None` when `literal` is not a string literal
/// that decodes to `decoded`.
#[must_use]
pub fn char_spans(literal: &str, decoded: &str) -> Option<Vec<std::ops::Range<usize>>> {
    let (delimiter, escapes, multi_line) = [
        ("\"\"\"", true, true),
        ("'''", false, true),
        ("\"", true, false),
        ("'", false, false),
    ]
    .into_iter()
    .find(|(d, _, _)| {
        literal.len() >= 2 * d.len() && literal.starts_with(d) && literal.ends_with(d)
    })?;
    let start = delimiter.len();
    let body = &literal[start..literal.len() - delimiter.len()];
    let mut chars = body.char_indices().peekable();
    let mut spans = Vec::new();
    if multi_line {
        // A newline right after the opening delimiter is not part of the value.
        if body.starts_with("\r\n") {
            chars.next();
            chars.next();
        } else if body.starts_with('\n') {
            chars.next();
        }
    }
    while let Some((at, c)) = chars.next() {
        if !(escapes && c == '\\') {
            spans.push(start + at..start + at + c.len_utf8());
            continue;
        }
        let &(_, kind) = chars.peek()?;
        let digits = match kind {
            'u' => 4,
            'U' => 8,
            'x' => 2,
            ' ' | '\t' | '\r' | '\n' if multi_line => {
                // A line-ending backslash drops the newline and the white space after it.
                while chars.next_if(|&(_, c)| c.is_whitespace()).is_some() {}
                continue;
            }
            _ => 0,
        };
        let (i, c) = chars.next()?;
        let mut end = i + c.len_utf8();
        for _ in 0..digits {
            let (i, c) = chars.next()?;
            end = i + c.len_utf8();
        }
        spans.push(start + at..start + end);
    }
    (spans.len() == decoded.chars().count()).then_some(spans)
}

#[cfg(test)]
mod tests {
    use super::char_spans;

    fn shown(literal: &str, decoded: &str) -> Vec<String> {
        char_spans(literal, decoded)
            .unwrap()
            .into_iter()
            .map(|span| literal[span].to_owned())
            .collect()
    }

    #[test]
    fn maps_decoded_characters_to_what_was_written() {
        assert_eq!(shown(r#""a\nb""#, "a\nb"), ["a", r"\n", "b"]);
        assert_eq!(shown(r#""\u0000x""#, "\0x"), [r"\u0000", "x"]);
        assert_eq!(shown("'a\\b'", "a\\b"), ["a", "\\", "b"]);
        assert_eq!(shown("\"\"\"\nab\"\"\"", "ab"), ["a", "b"]);
        assert_eq!(shown("\"\"\"a\\\n   b\"\"\"", "ab"), ["a", "b"]);
        assert_eq!(shown("'''a\nb'''", "a\nb"), ["a", "\n", "b"]);
        assert!(char_spans("1.0", "1.0").is_none());
        assert!(char_spans(r#""ab""#, "abc").is_none());
    }
}
