//! What a rule says about a bad value, before it is placed in the source.

use crate::diag::{Diagnostic, Severity};
use std::ops::Range;

/// A rule's verdict on a value, without a span: the validator places it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub label: String,
    pub help: String,
    /// Byte range inside the value's text that is at fault, when narrower than the value.
    pub within: Option<Range<usize>>,
}

impl Problem {
    #[must_use]
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            label: String::new(),
            help: String::new(),
            within: None,
        }
    }

    #[must_use]
    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = help.into();
        self
    }

    #[must_use]
    pub fn within(mut self, range: Range<usize>) -> Self {
        self.within = Some(range);
        self
    }

    /// Places the problem at `span` in the source.
    #[must_use]
    pub fn at(self, span: Range<usize>) -> Diagnostic {
        let diagnostic = Diagnostic {
            severity: self.severity,
            code: self.code,
            message: self.message,
            span,
            label: self.label,
            help: None,
        };
        if self.help.is_empty() {
            diagnostic
        } else {
            diagnostic.help(self.help)
        }
    }
}

/// A value's rule result: the checked value, or why not.
pub type Checked<T> = Result<T, Problem>;

/// Rejects characters no field may hold (control characters, quotes, shell
/// metacharacters, white space), naming the first one. Every string rule calls it first, so
/// a hostile value gets a pointed message whatever its field.
pub fn safe_characters(key: &str, value: &str) -> Checked<()> {
    let Some((index, bad)) = value.char_indices().find(|&(_, c)| !is_safe(c)) else {
        return Ok(());
    };
    let what = describe(bad);
    Err(Problem::new(
        "unsafe-character",
        format!("`{key}` contains {what}, which no `{key}` can hold"),
    )
    .label(format!("{what} here"))
    .help(
        "stack values are plain names: letters, digits and `-`, `_`, `.`, `/`, `:`, `@`, `*` where \
         the field allows them; quotes, `$`, backticks, `;`, white space and control characters are \
         never valid",
    )
    .within(index..index + bad.len_utf8()))
}

fn is_safe(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '_' | '.' | '/' | ':' | '@' | '*' | '+' | '%' | '~' | '[' | ']'
        )
}

fn describe(c: char) -> String {
    match c {
        '\n' => "a newline".into(),
        '\r' => "a carriage return".into(),
        '\t' => "a tab".into(),
        '\0' => "a NUL character".into(),
        ' ' => "a space".into(),
        '\'' => "a single quote".into(),
        '"' => "a double quote".into(),
        '`' => "a backtick".into(),
        '$' => "a `$`".into(),
        ';' => "a `;`".into(),
        c if c.is_control() => format!("the control character U+{:04X}", u32::from(c)),
        c if !c.is_ascii() => format!("the non-ASCII character `{c}`"),
        c => format!("the character `{c}`"),
    }
}
