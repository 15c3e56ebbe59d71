//! In-process benchmark of [`mlflow_stack::compile`] (parse → validate → plan → emit) for
//! every stack file in `stacks/`: `cargo bench --bench compile` (or `just bench`).
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
