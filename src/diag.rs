//! Diagnostics: every problem found in a stack file, with a stable code, the span it is
//! about, a label, and a help line. Stages push into one [`Diagnostics`] list and never
//! stop at the first problem; [`crate::run`] is the only place that prints them.

use std::fmt;
use std::ops::Range;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

use crate::source::Source;

/// Every rule code a diagnostic can carry. A test checks that each one is covered by a
/// fixture and that no other code is emitted.
pub const CODES: &[&str] = &[
    "conflicting-options",
    "default-namespace",
    "derived-name-too-long",
    "duplicate-key",
    "invalid-bucket",
    "invalid-cidr",
    "invalid-cluster-name",
    "invalid-host",
    "invalid-identifier",
    "invalid-image",
    "invalid-instance",
    "invalid-mlflow-version",
    "invalid-name",
    "invalid-namespace",
    "invalid-path",
    "invalid-project",
    "invalid-quantity",
    "invalid-repository",
    "invalid-tag",
    "invalid-tier",
    "latest-tag",
    "legacy-registry",
    "load-balancer-host",
    "load-balancer-without-allow",
    "memory-too-low",
    "missing-key",
    "not-applicable",
    "not-utf8",
    "open-to-world",
    "out-of-range",
    "reserved-identifier",
    "reserved-namespace",
    "toml-syntax",
    "unknown-key",
    "unknown-region",
    "unknown-value",
    "unsafe-character",
    "unsupported-mlflow-version",
    "wrong-type",
    "zone-not-region",
];

/// How bad a diagnostic is. Warnings never fail `check` or `build` (unless denied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One problem in a stack file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable kebab-case rule code, e.g. `unknown-key`.
    pub code: &'static str,
    /// What is wrong: lowercase, keys in backticks.
    pub message: String,
    /// Byte range in the source the diagnostic is about.
    pub span: Range<usize>,
    /// Text of the label under the span.
    pub label: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    #[must_use]
    pub fn error(code: &'static str, span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            label: String::new(),
            help: None,
        }
    }

    #[must_use]
    pub fn warning(code: &'static str, span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, span, message)
        }
    }

    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Appends "did you mean `x`?" to the help when a suggestion exists.
    #[must_use]
    pub fn suggest(mut self, suggestion: Option<&str>) -> Self {
        if let Some(suggestion) = suggestion {
            let hint = format!("did you mean `{suggestion}`?");
            self.help = Some(match self.help.take() {
                Some(help) => format!("{hint} {help}"),
                None => hint,
            });
        }
        self
    }
}

/// The diagnostics of one stack file, in source order once sorted.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    #[must_use]
    pub fn count(&self, severity: Severity) -> usize {
        self.items.iter().filter(|d| d.severity == severity).count()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Source order; a problem reported twice at one place is kept once.
    pub fn sort(&mut self) {
        self.items.sort_by_key(|a| (a.span.start, a.span.end));
        self.items.dedup();
    }
}

/// How diagnostics are drawn: tests and non-terminals use a fixed theme without colour.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    pub width: usize,
}

impl Style {
    /// The fixed style of snapshots and of output that is not a terminal.
    pub const PLAIN: Self = Self {
        color: false,
        width: 100,
    };
}

/// Renders one diagnostic as miette draws it: header, source excerpt, label, help.
#[must_use]
pub fn render(source: &Source, diagnostic: &Diagnostic, style: Style) -> String {
    let theme = if style.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(style.width)
        .with_links(false);
    let report = Report {
        diagnostic,
        source: NamedSource::new(source.display_name(), source.text().to_owned())
            .with_language("toml"),
    };
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = handler.render_report(&mut out, &report);
    out
}

/// A one-line summary of a file's diagnostics, e.g. `stacks/a.toml: 2 errors, 1 warning`.
#[must_use]
pub fn summary(source: &Source, diagnostics: &Diagnostics) -> String {
    let errors = diagnostics.count(Severity::Error);
    let warnings = diagnostics.count(Severity::Warning);
    format!(
        "{}: {}, {}",
        source.display_name(),
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

#[must_use]
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A diagnostic as one JSON object, for editors and CI annotations.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub severity: Severity,
    pub code: &'a str,
    pub message: &'a str,
    pub label: &'a str,
    pub help: Option<&'a str>,
}

impl<'a> JsonDiagnostic<'a> {
    #[must_use]
    pub fn new(source: &Source, diagnostic: &'a Diagnostic) -> Self {
        let (line, column) = source.line_col(diagnostic.span.start);
        let (end_line, end_column) = source.line_col(diagnostic.span.end);
        Self {
            file: source.display_name(),
            line,
            column,
            end_line,
            end_column,
            severity: diagnostic.severity,
            code: diagnostic.code,
            message: &diagnostic.message,
            label: &diagnostic.label,
            help: diagnostic.help.as_deref(),
        }
    }
}

struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<String>,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("diagnostic", self.diagnostic)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Warning => miette::Severity::Warning,
            Severity::Error => miette::Severity::Error,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic
            .help
            .as_deref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = &self.diagnostic.span;
        let label = (!self.diagnostic.label.is_empty()).then(|| self.diagnostic.label.clone());
        Some(Box::new(std::iter::once(
            LabeledSpan::new_primary_with_span(
                label,
                SourceSpan::new(span.start.into(), span.end - span.start),
            ),
        )))
    }
}
