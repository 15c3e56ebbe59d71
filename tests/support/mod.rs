//! Shared helpers: paths, the binary, compiling a file, snapshot settings; and the harness
//! of the `infra.sh` tests ([`infra`]).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mlflow_stack::diag::{self, Style};
use mlflow_stack::source::Source;
use mlflow_stack::{Compiled, compile};

#[cfg(unix)]
pub mod infra;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `*.toml` directly in `dir` (relative to the repository root), sorted.
pub fn stack_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
        .unwrap_or_else(|error| panic!("{dir}: {error}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

/// The compiler binary.
pub fn bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mlflow-stack"));
    command.env_remove("NO_COLOR").current_dir(repo());
    command
}

/// Runs the binary with `args` in `dir`.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

pub fn code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Compiles a stack file as the CLI would, naming it by its path relative to the repo.
pub fn compile_file(path: &Path) -> (Source, Compiled) {
    let relative = path.strip_prefix(repo()).unwrap_or(path);
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let source = Source::new(relative, text);
    let compiled = compile(&source);
    (source, compiled)
}

/// Every diagnostic rendered in the fixed plain style, then the summary line.
pub fn render_all(source: &Source, compiled: &Compiled) -> String {
    let mut out = String::new();
    for diagnostic in compiled.diagnostics.iter() {
        out.push_str(&diag::render(source, diagnostic, Style::PLAIN));
        out.push('\n');
    }
    out.push_str(&diag::summary(source, &compiled.diagnostics));
    out.push('\n');
    out
}

/// insta settings: snapshots live in the top-level `snapshots/` folder.
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(repo().join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings
}

/// A fresh temporary directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "mlflow-stack-test-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
