//! A stack file as read from disk: its path as the user spelled it and its text.

use std::path::{Path, PathBuf};

/// The text of one stack file and where it came from.
#[derive(Debug, Clone)]
pub struct Source {
    path: PathBuf,
    text: String,
}

impl Source {
    /// A source read from `path` (or any text, for tests).
    #[must_use]
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
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

    /// One-based line and column (in characters) of a byte offset.
    #[must_use]
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}
