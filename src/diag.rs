//! Diagnostics: every problem found in a stack file, with a stable code, the span it is
//! about, a label, and a help line. Stages push into one [`Diagnostics`] list and never
//! stop at the first problem; [`crate::run`] is the only place that prints them.

use std::fmt::{self, Write as _};
use std::ops::Range;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};
use serde::Serialize;

use crate::source::Source;

pub use crate::explain::Code;

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
    pub code: Code,
    /// What is wrong: lowercase, keys in backticks.
    pub message: String,
    /// Byte range in the source the diagnostic is about.
    pub span: Range<usize>,
    /// Text of the label under the span.
    pub label: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Other places worth showing, e.g. where a duplicated key was first defined.
    pub related: Vec<(Range<usize>, String)>,
    /// The span holds a secret: the excerpt draws it masked, never as written (see [`render`]).
    pub secret: bool,
}

impl Diagnostic {
    #[must_use]
    pub fn error(code: Code, span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            label: String::new(),
            help: None,
            related: Vec::new(),
            secret: false,
        }
    }

    #[must_use]
    pub fn warning(code: Code, span: Range<usize>, message: impl Into<String>) -> Self {
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

    /// Adds a secondary label at another place in the file.
    #[must_use]
    pub fn related(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }

    /// Prepends "did you mean `x`?" to the help when a suggestion exists.
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

/// Renders one diagnostic as miette draws it: header, source excerpt, labels, help.
///
/// The excerpt shows the file as the user sees it in an editor, with two exceptions that
/// keep the output readable in a terminal: a line longer than [`LONG_LINE`] characters is
/// shortened around the labelled places (`…` stands for what is left out), and control
/// characters are drawn as their Unicode control pictures (`␀`, `␍`, …). A secret span
/// is drawn as [`MASK`] between its quotes, so that a secret written in the wrong place
/// never reaches a terminal or a log. The header's `line:column` always refers to the
/// file itself.
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
    let mut spans = vec![diagnostic.span.clone()];
    spans.extend(diagnostic.related.iter().map(|(span, _)| span.clone()));
    let mask = diagnostic
        .secret
        .then(|| unquoted(source.text(), &diagnostic.span));
    let report = Report {
        diagnostic,
        excerpt: Excerpt::new(source, &spans, mask),
    };
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = handler.render_report(&mut out, &report);
    out
}

/// What the excerpt draws instead of a secret.
pub const MASK: &str = "********";

/// The part of `span` inside its quotes (`"…"`, `'…'`, and their triple forms), or all of it.
fn unquoted(text: &str, span: &Range<usize>) -> Range<usize> {
    const QUOTES: [char; 2] = ['"', '\''];
    let literal = text.get(span.clone()).unwrap_or_default();
    let opening = (literal.len() - literal.trim_start_matches(QUOTES).len()).min(3);
    let closing = (literal.len() - literal.trim_end_matches(QUOTES).len()).min(3);
    if opening + closing >= literal.len() {
        return span.clone();
    }
    span.start + opening..span.end - closing
}

/// At most this many diagnostics of one file are rendered; the rest are only counted, so a
/// hostile file with thousands of problems is reported in bounded time and space.
pub const MAX_RENDERED: usize = 100;

/// The diagnostics of one file as `check` prints them: the first [`MAX_RENDERED`] rendered
/// (each followed by a blank line), then `… and N more` when there are more.
#[must_use]
pub fn render_file(source: &Source, diagnostics: &Diagnostics, style: Style) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics.iter().take(MAX_RENDERED) {
        out.push_str(&render(source, diagnostic, style));
        out.push('\n');
    }
    let hidden = diagnostics.items.len().saturating_sub(MAX_RENDERED);
    if hidden > 0 {
        let noun = if hidden == 1 {
            "diagnostic"
        } else {
            "diagnostics"
        };
        let _ = writeln!(
            out,
            "… and {hidden} more {noun} in {}\n",
            source.display_name()
        );
    }
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
            code: diagnostic.code.name(),
            message: &diagnostic.message,
            label: &diagnostic.label,
            help: diagnostic.help.as_deref(),
        }
    }
}

struct Report<'a> {
    diagnostic: &'a Diagnostic,
    excerpt: Excerpt<'a>,
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
        Some(&self.excerpt)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let label = (!self.diagnostic.label.is_empty()).then(|| self.diagnostic.label.clone());
        let primary =
            LabeledSpan::new_primary_with_span(label, self.excerpt.span(&self.diagnostic.span));
        let related = self.diagnostic.related.iter().map(|(span, label)| {
            LabeledSpan::new_with_span(Some(label.clone()), self.excerpt.span(span))
        });
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

/// Lines longer than this many characters are shortened in the rendered excerpt.
pub const LONG_LINE: usize = 80;
/// Characters kept at the start and the end of a shortened line, and around each labelled place.
const KEEP_HEAD: usize = 24;
const KEEP_TAIL: usize = 8;
const KEEP_AROUND: usize = 16;

/// A piece of the displayed text: copied from the file, or standing in for part of it.
#[derive(Debug, Clone)]
struct Piece {
    original: Range<usize>,
    display: Range<usize>,
    verbatim: bool,
}

/// Lines drawn around each labelled span beyond miette's one line of context, so that its
/// context reading sees the same lines as in the whole file.
const MARGIN: usize = 3;

/// A run of whole lines of the file that the excerpt draws.
#[derive(Debug)]
struct Window {
    /// Where the run is in the displayed text.
    display: Range<usize>,
    /// The zero-based line number of its first line in the file.
    first_line: usize,
}

/// The text miette draws: the lines around the labelled spans (not the whole file, so that
/// rendering a diagnostic costs the size of its excerpt, not of the file), with long lines
/// shortened and control characters made visible, and the map back to the file's offsets.
#[derive(Debug)]
struct Excerpt<'a> {
    name: String,
    source: &'a Source,
    display: String,
    pieces: Vec<Piece>,
    windows: Vec<Window>,
    /// File offsets drawn as [`MASK`].
    mask: Option<Range<usize>>,
}

impl<'a> Excerpt<'a> {
    fn new(source: &'a Source, spans: &[Range<usize>], mask: Option<Range<usize>>) -> Self {
        let text = source.text();
        let starts = source.line_starts();
        let last_line = starts.len() - 1;
        let mut runs: Vec<(usize, usize)> = spans
            .iter()
            .map(|span| {
                let first = source.line_of(span.start.min(text.len()));
                let last = source.line_of(span.end.min(text.len()));
                (first.saturating_sub(MARGIN), (last + MARGIN).min(last_line))
            })
            .collect();
        runs.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(runs.len());
        for (first, last) in runs {
            match merged.last_mut() {
                Some(previous) if first <= previous.1 + 1 => previous.1 = previous.1.max(last),
                _ => merged.push((first, last)),
            }
        }
        let points: Vec<usize> = spans.iter().flat_map(|s| [s.start, s.end]).collect();
        let mut excerpt = Self {
            name: source.display_name(),
            source,
            display: String::new(),
            pieces: Vec::new(),
            windows: Vec::with_capacity(merged.len()),
            mask,
        };
        for (first, last) in merged {
            let from = excerpt.display.len();
            let end = starts.get(last + 1).copied().unwrap_or(text.len());
            let mut line_start = starts[first];
            for line in text[line_start..end].split_inclusive('\n') {
                let body = line.strip_suffix('\n').unwrap_or(line);
                let body = body.strip_suffix('\r').unwrap_or(body);
                excerpt.push_line(line_start, body, &points);
                let terminator = line_start + body.len()..line_start + line.len();
                if !terminator.is_empty() {
                    excerpt.push(terminator.clone(), &text[terminator], true);
                }
                line_start += line.len();
            }
            excerpt.windows.push(Window {
                display: from..excerpt.display.len(),
                first_line: first,
            });
        }
        excerpt
    }

    fn push_line(&mut self, start: usize, body: &str, points: &[usize]) {
        let chars: Vec<(usize, char)> = body.char_indices().collect();
        let count = chars.len();
        let mut keep = vec![count <= LONG_LINE; count];
        if count > LONG_LINE {
            keep[..KEEP_HEAD].fill(true);
            keep[count - KEEP_TAIL..].fill(true);
            for &point in points
                .iter()
                .filter(|&&p| p >= start && p <= start + body.len())
            {
                let at = chars.partition_point(|&(i, _)| start + i < point);
                keep[at.saturating_sub(KEEP_AROUND)..(at + KEEP_AROUND).min(count)].fill(true);
            }
        }
        let end_of = |index: usize| chars.get(index).map_or(body.len(), |&(i, _)| i);
        let mut index = 0;
        let mask = self.mask.clone();
        let masked = |index: usize| {
            mask.as_ref().is_some_and(|mask| {
                chars
                    .get(index)
                    .is_some_and(|&(i, _)| mask.contains(&(start + i)))
            })
        };
        while index < count {
            let (at, c) = chars[index];
            if masked(index) {
                let run = (index..count).take_while(|&i| masked(i)).count();
                self.push(start + at..start + end_of(index + run), MASK, false);
                index += run;
            } else if keep[index] {
                let range = start + at..start + end_of(index + 1);
                match visible(c) {
                    Some(picture) => self.push(range, picture.encode_utf8(&mut [0; 4]), false),
                    None => self.push(range, &body[at..end_of(index + 1)], true),
                }
                index += 1;
            } else {
                let skipped = keep[index..].iter().take_while(|k| !**k).count();
                self.push(start + at..start + end_of(index + skipped), "…", false);
                index += skipped;
            }
        }
    }

    fn push(&mut self, original: Range<usize>, shown: &str, verbatim: bool) {
        let display = self.display.len()..self.display.len() + shown.len();
        self.display.push_str(shown);
        if let Some(last) = self.pieces.last_mut()
            && verbatim
            && last.verbatim
            && last.original.end == original.start
        {
            last.original.end = original.end;
            last.display.end = display.end;
            return;
        }
        self.pieces.push(Piece {
            original,
            display,
            verbatim,
        });
    }

    /// The displayed offset of a file offset; inside a replaced piece, its start (or its end
    /// for the end of a span).
    fn to_display(&self, offset: usize, is_end: bool) -> usize {
        let index = self.pieces.partition_point(|p| p.original.end <= offset);
        match self.pieces.get(index) {
            None => self.display.len(),
            Some(piece) if piece.verbatim => {
                piece.display.start + offset.saturating_sub(piece.original.start)
            }
            Some(piece) if is_end && offset > piece.original.start => piece.display.end,
            Some(piece) => piece.display.start,
        }
    }

    fn to_original(&self, offset: usize) -> usize {
        let index = self.pieces.partition_point(|p| p.display.end <= offset);
        match self.pieces.get(index) {
            None => self.source.text().len(),
            Some(piece) if piece.verbatim => {
                piece.original.start + offset.saturating_sub(piece.display.start)
            }
            Some(piece) => piece.original.start,
        }
    }

    fn span(&self, span: &Range<usize>) -> SourceSpan {
        let start = self.to_display(span.start, false);
        let end = self.to_display(span.end, true).max(start);
        SourceSpan::new(start.into(), end - start)
    }
}

/// How a character that would garble a terminal is drawn: control characters as their
/// control pictures, invisible formatting characters (bidi overrides, zero-width) as `�`.
fn visible(c: char) -> Option<char> {
    match c {
        '\t' => None,
        '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + u32::from(c)),
        '\u{7f}' => Some('␡'),
        c if c.is_control() => Some('�'),
        '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{feff}' => Some('�'),
        _ => None,
    }
}

impl SourceCode for Excerpt<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        // The run of lines the span starts in; a span never crosses from one run into
        // another (miette only joins spans whose contexts touch, and runs that touch merge).
        let at = span.offset();
        let index = self
            .windows
            .partition_point(|w| w.display.end <= at)
            .min(self.windows.len().saturating_sub(1));
        let window = self.windows.get(index).ok_or(MietteError::OutOfBounds)?;
        if at < window.display.start || at + span.len() > window.display.end {
            return Err(MietteError::OutOfBounds);
        }
        let local = SourceSpan::new((at - window.display.start).into(), span.len());
        let contents = self.display[window.display.clone()].read_span(
            &local,
            context_lines_before,
            context_lines_after,
        )?;
        let offset = contents.span().offset() + window.display.start;
        // miette reports the column of the span's start in the text it was given; the header
        // must name the column in the file, counted in characters like the JSON output.
        let column = if contents.column() == 0 {
            0
        } else {
            let original = self.to_original(offset);
            let line_start = self.source.line_starts()[self.source.line_of(original)];
            self.source.text()[line_start..original].chars().count()
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            contents.data(),
            SourceSpan::new(offset.into(), contents.span().len()),
            contents.line() + window.first_line,
            column,
            contents.line_count() + window.first_line,
        )))
    }
}

/// A value quoted in a message or help: as written, or shortened in the middle when long,
/// with control characters escaped so that a message stays on one line.
#[must_use]
pub fn shown(value: &str) -> String {
    const MAX: usize = 40;
    let escaped: String = value
        .chars()
        .flat_map(|c| {
            let escape = c.is_control().then(|| c.escape_debug());
            escape
                .into_iter()
                .flatten()
                .chain((!c.is_control()).then_some(c))
        })
        .collect();
    let count = escaped.chars().count();
    if count <= MAX {
        return escaped;
    }
    let head: String = escaped.chars().take(MAX - 12).collect();
    let tail: String = escaped.chars().skip(count - 8).collect();
    format!("{head}…{tail}")
}
