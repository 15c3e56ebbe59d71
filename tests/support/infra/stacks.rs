//! The stack files the scenarios run, changed copies of them, and what the compiler makes
//! of one: its plan (the names and facts the assertions use) and its bundle.

use std::fs;
use std::path::{Path, PathBuf};

use mlflow_stack::diag::Diagnostics;
use mlflow_stack::plan::Plan;
use mlflow_stack::{parse, validate};

use crate::support::{TempDir, compile_file, repo, stack_files};

/// A local stack on the legacy Container Registry: the one branch no stack file covers.
pub const GCR_STACK: &str = "project = \"acme-ml-dev\"\nregion = \"europe-west3\"\n\
    bucket = \"acme-ml-dev-legacy\"\ntag = \"1.0.0\"\nenvironment = \"local\"\n\
    name = \"legacy\"\n\n[registry]\nkind = \"gcr\"\n";

/// The plan of the stack file at PATH, which must be valid: what its bundle does, by name.
pub fn plan_of(path: &Path) -> Plan {
    let (source, _) = compile_file(path);
    let mut diagnostics = Diagnostics::default();
    let parsed = parse::parse(&source, &mut diagnostics);
    let stack = validate::validate(&source, &parsed, &mut diagnostics)
        .unwrap_or_else(|| panic!("{} is valid", path.display()));
    Plan::new(&stack)
}

/// The bundle of the stack file STACK, written into DIR.
pub fn write_bundle(stack: &Path, dir: &Path) {
    let (_, compiled) = compile_file(stack);
    let bundle = compiled
        .bundle
        .unwrap_or_else(|| panic!("{} compiles", stack.display()));
    for (path, contents) in &bundle.files {
        let file = dir.join(path);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(file, contents).unwrap();
    }
}

/// `stacks/NAME.toml` with the `(from, to)` replacements made and LINES (tables) added, in
/// SCRATCH.
pub fn changed_stack(
    scratch: &TempDir,
    name: &str,
    replace: &[(&str, &str)],
    lines: &str,
) -> PathBuf {
    let mut text = fs::read_to_string(stack(name)).unwrap();
    for (from, to) in replace {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    let changed = scratch.path().join(format!("{name}.toml"));
    fs::write(&changed, format!("{text}\n{lines}\n")).unwrap();
    changed
}

/// [`GCR_STACK`] written into SCRATCH.
pub fn gcr_stack(scratch: &TempDir) -> PathBuf {
    let gcr = scratch.path().join("gcr.toml");
    fs::write(&gcr, GCR_STACK).unwrap();
    gcr
}

/// Every stack file whose bundle the tests run: `stacks/`, the good fixtures, and a
/// Container Registry stack written into `scratch`.
pub fn every_stack(scratch: &TempDir) -> Vec<PathBuf> {
    let mut stacks = stack_files("stacks");
    stacks.extend(stack_files("tests/fixtures/good"));
    stacks.push(gcr_stack(scratch));
    stacks
}

/// `stacks/NAME.toml`.
pub fn stack(name: &str) -> PathBuf {
    repo().join("stacks").join(format!("{name}.toml"))
}
