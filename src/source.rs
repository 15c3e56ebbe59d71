//! A stack file as read from disk: its path as the user spelled it and its text.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The text of one stack file and where it came from.
#[derive(Debug, Clone)]
pub struct Source {
    path: PathBuf,
    text: String,
    /// The byte offset of the start of each line, built once on first use: every diagnostic
    /// finds its line by binary search instead of counting from the top of the file.
    line_starts: OnceLock<Vec<usize>>,
}

impl Source {
    /// A source read from `path` (or any text, for tests).
    #[must_use]
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
            line_starts: OnceLock::new(),
        }
    }

    /// The path as the user gave it: diagnostics name the file this way.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path for display in diagnostics: control characters, escape sequences and bidi
    /// overrides in a file name are escaped, so they never reach a terminal.
    #[must_use]
    pub fn display_name(&self) -> String {
        crate::printable::printable_path(&self.path)
    }

    /// The bare file name: the only part of the path that reaches the bundle, so that the
    /// output does not depend on the working directory or the spelling of the path.
    #[must_use]
    pub fn file_name(&self) -> &str {
        self.path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("stack.toml")
    }

    /// The file stem, the sub-directory name when several stacks build into one `--out`.
    #[must_use]
    pub fn stem(&self) -> &str {
        self.path
            .file_stem()
            .and_then(|name| name.to_str())
            .unwrap_or("stack")
    }

    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The byte offset where each line starts (the first is 0).
    #[must_use]
    pub fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        })
    }

    /// The zero-based line of a byte offset.
    #[must_use]
    pub fn line_of(&self, offset: usize) -> usize {
        self.line_starts().partition_point(|&start| start <= offset) - 1
    }

    /// One-based line and column (in characters) of a byte offset.
    #[must_use]
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let line = self.line_of(offset);
        let line_start = self.line_starts()[line];
        let column = self.text[line_start..offset].chars().count() + 1;
        (line + 1, column)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}
