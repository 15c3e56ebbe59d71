//! In-process benchmark of [`mlflow_stack::compile`] (parse → validate → plan → emit) for
//! every stack file in `stacks/`, and `check` of the hostile 1 MB stack files of
//! `tests/bench/gen-hostile.sh` (100,000 unknown keys, thousands of duplicates and syntax
//! errors, a 1 MB line, deep nesting): `cargo bench --bench compile` (or `just bench`).
//!
//! Time per call and allocations per call, without process start or file I/O; the
//! whole-process figures (`build`, `manifests`, 1,000 stacks) come from
//! `tests/bench/hyperfine.sh`.

use std::path::{Path, PathBuf};

use mlflow_stack::compile;
use mlflow_stack::source::Source;

#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    divan::main();
}

fn stacks_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks")
}

/// The file stems of `stacks/*.toml`, sorted: one benchmark case each.
fn stacks() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(stacks_dir())
        .expect("stacks/ is readable")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let is_toml = path.extension().is_some_and(|ext| ext == "toml");
            is_toml.then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
}

fn load(name: &str) -> Source {
    let path = stacks_dir().join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).expect("the stack file is readable");
    let source = Source::new(path, text);
    // A stack that stops at a diagnostic would time the error path, not a build.
    assert!(
        compile(&source).bundle.is_some(),
        "stacks/{name}.toml does not compile"
    );
    source
}

/// One stack file, from its text to every file of its bundle in memory.
#[divan::bench(args = stacks())]
fn compile_stack(bencher: divan::Bencher, name: &str) {
    let source = load(name);
    bencher.bench_local(|| compile(divan::black_box(&source)));
}

/// The hostile 1 MB stack files of `tests/bench/gen-hostile.sh`, written once per run.
fn hostile_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("mlflow-stack-hostile-{}", std::process::id()));
        let status = std::process::Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bench/gen-hostile.sh"))
            .arg(&dir)
            .status()
            .expect("bash runs gen-hostile.sh");
        assert!(status.success(), "gen-hostile.sh failed");
        dir
    })
}

fn hostile(shape: &str) -> Source {
    let path = hostile_dir().join(format!("{shape}.toml"));
    let text = std::fs::read_to_string(&path).expect("gen-hostile.sh wrote the shape");
    Source::new(path, text)
}

/// `check` of a hostile 1 MB file without the file I/O: compile, then render what the CLI
/// prints (the first 100 diagnostics, the count of the rest, the summary line).
#[divan::bench(args = ["unknown-keys", "duplicate-keys", "duplicate-tables", "syntax-errors", "bad-values", "long-line", "deep-nesting"], sample_count = 10)]
fn check_hostile_1mb(bencher: divan::Bencher, shape: &str) {
    use mlflow_stack::diag::{self, Style};
    let source = hostile(shape);
    bencher.bench_local(|| {
        let compiled = compile(divan::black_box(&source));
        let mut out = diag::render_file(&source, &compiled.diagnostics, Style::PLAIN);
        out.push_str(&diag::summary(&source, &compiled.diagnostics));
        out
    });
}
