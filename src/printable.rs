//! Untrusted text (file names, paths) made safe to print on a terminal: control characters
//! (escape sequences, carriage returns, newlines), bidirectional overrides and invisible
//! formatting characters are written as `\u{…}` escapes, so a file name can neither drive the
//! terminal nor disguise itself.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;

/// Whether a character would garble or disguise text on a terminal.
#[must_use]
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2028}'..='\u{2029}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// `text` with every unsafe character escaped; borrowed when there is none.
#[must_use]
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A path for a terminal: lossy UTF-8, unsafe characters escaped.
#[must_use]
pub fn printable_path(path: &Path) -> String {
    printable(&path.to_string_lossy()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_bidi_and_controls_keeps_the_rest() {
        assert_eq!(printable("stacks/a.toml"), "stacks/a.toml");
        assert_eq!(printable("é ü 日本"), "é ü 日本");
        assert_eq!(
            printable("\u{1b}]0;pwned\u{7}x\r\n\u{202e}lmot.\u{200b}"),
            "\\u{1b}]0;pwned\\u{7}x\\u{d}\\u{a}\\u{202e}lmot.\\u{200b}"
        );
    }
}
