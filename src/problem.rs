//! What a rule says about a bad value, before it is placed in the source, and the
//! newtypes of checked strings that only a rule constructs.

use crate::diag::{Code, Diagnostic, Severity};
use std::ops::Range;

/// A string newtype: its value is private, so only the module that declares it (its
/// rules) constructs one; everyone reads it with `as_str`, `Display` and `Serialize`.
macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }
    };
}
pub(crate) use string_newtype;

/// A rule's verdict on a value, without a span: the validator places it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub label: String,
    pub help: String,
    /// Byte range inside the value's text that is at fault, when narrower than the value.
    pub within: Option<Range<usize>>,
    /// The value is a secret: the diagnostic never shows it.
    pub secret: bool,
}

impl Problem {
    #[must_use]
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            label: String::new(),
            help: String::new(),
            within: None,
            secret: false,
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

    /// The value is a secret written where it does not belong: the diagnostic's excerpt
    /// masks it.
    #[must_use]
    pub fn secret(mut self) -> Self {
        self.secret = true;
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
            related: Vec::new(),
            secret: self.secret,
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
    let label = match bad {
        ' ' | '\u{a0}' => "white space",
        '"' | '\'' => "a quote",
        c if c.is_control() => "a control character",
        c if !c.is_ascii() => "not ASCII",
        '$' | '`' | ';' | '|' | '&' | '<' | '>' | '(' | ')' | '{' | '}' | '\\' | '!' | '#'
        | '?' | '=' | '^' => "shell syntax",
        _ => "not allowed here",
    };
    let grammar = format!("`{key}` holds {}", grammar(key));
    let help = match fix(key, value, index, bad) {
        Some(fix) => format!("{fix}; {grammar}"),
        None => format!(
            "{grammar}; no stack value may hold quotes, `$`, backticks, `;`, white space or \
             control characters"
        ),
    };
    Err(
        Problem::new(Code::UnsafeCharacter, format!("`{key}` contains {what}"))
            .label(label)
            .help(help)
            .within(index..index + bad.len_utf8()),
    )
}

/// What a field holds, for the help of an unsafe character.
fn grammar(key: &str) -> &'static str {
    match key {
        "project" => "lowercase letters, digits and hyphens, e.g. `acme-ml-prod`",
        "region" => "a region name such as `europe-west3`",
        "bucket" => "lowercase letters, digits, `-`, `_` and `.`, e.g. `acme-ml-prod-mlflow`",
        "tag" => "letters, digits, `_`, `.` and `-`, e.g. `1.0.0`",
        "server.mlflow_version" => "a release number such as `3.17.2`",
        "server.cpu" => "a CPU quantity such as `500m` or `2`",
        "server.memory" => "a memory quantity such as `1Gi` or `1536Mi`",
        "server.tmp_size" => "a storage quantity such as `8Gi` or `20Gi`",
        "server.allowed_hosts" => "host names such as `mlflow.example.com`",
        "database.tier" => "a tier such as `db-custom-1-3840`",
        "database.database" | "database.user" => "lowercase letters, digits and `_`",
        "registry.image" => "an image reference such as `ghcr.io/acme/mlflow:3.17.2`",
        "expose.allow" => "CIDR blocks such as `203.0.113.0/24`",
        "credentials.dir" => "a relative path of letters, digits, `.`, `_`, `-` and `/`",
        "encryption.kms_key" => {
            "a key name such as `projects/acme-kms/locations/europe-west3/keyRings/mlflow/cryptoKeys/data`"
        }
        "cluster.context" => "a kubectl context name such as `kind-mlflow` or `docker-desktop`",
        _ => "lowercase letters, digits and hyphens",
    }
}

/// The fix for the unsafe characters people paste by accident.
fn fix(key: &str, value: &str, index: usize, bad: char) -> Option<String> {
    let name = match bad {
        ' ' => "space",
        '\t' => "tab",
        '\n' => "newline",
        '\r' => "carriage return",
        '\u{a0}' => "no-break space",
        _ => "",
    };
    if !name.is_empty() {
        if index + bad.len_utf8() == value.len() || value[index..].trim().is_empty() {
            return Some(format!("remove the {name} at the end"));
        }
        if value[..index].trim().is_empty() {
            return Some(format!("remove the {name} at the start"));
        }
    }
    if key == "project" && bad == ' ' {
        return Some(
            "that looks like the project's display name: use its id (`gcloud projects list` \
             shows both)"
                .into(),
        );
    }
    if key == "credentials.dir" && bad == '$' {
        return Some(
            "nothing expands variables here: write a path relative to where `infra.sh` runs, \
             e.g. `dir = \".mlflow_credentials\"`"
                .into(),
        );
    }
    let ascii = match bad {
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{fe63}' | '\u{ff0d}' => '-',
        '\u{2018}' | '\u{2019}' | '\u{201c}' | '\u{201d}' => {
            return Some("remove the quote".into());
        }
        '\u{ff0e}' | '\u{3002}' => '.',
        _ => return None,
    };
    Some(format!(
        "replace `{bad}` (U+{:04X}), which looks like `{ascii}`, with `{ascii}`",
        u32::from(bad)
    ))
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
        c if !c.is_ascii() => format!("the non-ASCII character `{c}` (U+{:04X})", u32::from(c)),
        c => format!("`{c}`"),
    }
}
