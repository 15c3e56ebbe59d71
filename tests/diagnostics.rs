//! Every bad input fails well: the catalogue of broken stacks in `tests/fixtures/bad/`, one
//! problem per file, each with its rendered diagnostics in a snapshot; every rule code
//! covered; several problems reported in one run; the JSON format; warnings; and the I/O
//! failures of `build`, which never touch a previous bundle.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use mlflow_stack::diag::{Code, Severity};
use mlflow_stack::source::Source;

use crate::support::{
    TempDir, code, compile_file, render_all, repo, run, snapshot_settings, stack_files, stderr,
    stdout,
};

/// A fixture's diagnostics as a user sees them, and the codes they carry.
struct Outcome {
    rendered: String,
    codes: Vec<String>,
    errors: usize,
    bundle: bool,
}

/// Compiles a fixture; a file that is not UTF-8 goes through the binary, which reads bytes.
fn outcome(path: &Path) -> Outcome {
    let relative = path.strip_prefix(repo()).unwrap();
    let bytes = fs::read(path).unwrap();
    // UTF-16 text can be valid UTF-8 (ASCII and NULs): the binary recognises it from the bytes.
    if std::str::from_utf8(&bytes).is_ok() && mlflow_stack::encoding::detect(&bytes).is_none() {
        let (source, compiled) = compile_file(path);
        return Outcome {
            rendered: render_all(&source, &compiled),
            codes: compiled
                .diagnostics
                .iter()
                .map(|d| d.code.name().to_owned())
                .collect(),
            errors: compiled.diagnostics.count(Severity::Error),
            bundle: compiled.bundle.is_some(),
        };
    }
    let relative = relative.to_str().unwrap();
    let human = run(&["check", relative]);
    let json = run(&["check", "--format", "json", relative]);
    let diagnostics: Vec<serde_json::Value> = stdout(&json)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    Outcome {
        rendered: stderr(&human),
        codes: diagnostics
            .iter()
            .map(|d| d["code"].as_str().unwrap().to_owned())
            .collect(),
        errors: diagnostics
            .iter()
            .filter(|d| d["severity"] == "error")
            .count(),
        bundle: code(&human) == 0,
    }
}

/// Fixtures whose one problem cannot be written without a second, expected diagnostic.
const EXTRA: &[(&str, &str)] = &[
    // `repository` conflicts with `kind = "gcr"`, and `gcr` itself is a warning.
    ("conflicting-options-gcr-repository", "legacy-registry"),
    // The parser reads `allow` up to its depth limit: its value is not a list of strings.
    ("toml-syntax-deep-array", "wrong-type"),
    // A load balancer on gke cannot carry basic auth (plain HTTP across the internet), so
    // it has no sign-in, which is a warning.
    ("load-balancer-host", "no-auth"),
    ("load-balancer-host-internal-names", "no-auth"),
    ("load-balancer-without-allow", "no-auth"),
    ("load-balancer-without-allow-empty", "no-auth"),
];

#[test]
fn every_bad_stack_fails_well() {
    let fixtures = stack_files("tests/fixtures/bad");
    assert!(fixtures.len() >= 70, "only {} bad fixtures", fixtures.len());
    let mut covered = BTreeSet::new();
    for path in &fixtures {
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let bytes = fs::read(path).unwrap();
        let text = mlflow_stack::encoding::detect(&bytes).map_or_else(
            || String::from_utf8_lossy(&bytes).into_owned(),
            |wide| {
                wide.decode(&bytes)
                    .trim_start_matches('\u{feff}')
                    .to_owned()
            },
        );
        let comment = text.lines().next().unwrap_or_default().to_owned();
        assert!(
            comment.starts_with("# ") && comment.len() > 10,
            "{stem}: the first line must be a `#` comment saying what is wrong"
        );
        let outcome = outcome(path);
        // One problem per file, reported once, under the code the file is named after.
        let expected = if EXTRA.iter().any(|(name, _)| *name == stem) {
            2
        } else {
            1
        };
        assert_eq!(
            outcome.codes.len(),
            expected,
            "{stem}: expected one diagnostic\n{}",
            outcome.rendered
        );
        let code = outcome
            .codes
            .iter()
            .find(|code| !EXTRA.contains(&(stem, code.as_str())))
            .unwrap();
        assert!(
            stem == code || stem.starts_with(&format!("{code}-")),
            "{stem}: reports `{code}`, which the file name should start with\n{}",
            outcome.rendered
        );
        assert!(
            Code::from_name(code).is_some(),
            "{stem}: `{code}` is not a declared code"
        );
        // A warning alone still builds; an error never does.
        assert_eq!(outcome.bundle, outcome.errors == 0, "{stem}");
        assert!(
            outcome.rendered.contains(&format!("{stem}.toml:")),
            "{stem}: the diagnostic names no file:line:column\n{}",
            outcome.rendered
        );
        covered.insert(code.clone());
        let mut settings = snapshot_settings();
        settings.set_description(comment.trim_start_matches("# "));
        settings.set_input_file(path);
        settings.bind(|| {
            insta::assert_snapshot!(format!("diagnostics@{stem}"), outcome.rendered);
        });
    }
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.name())
        .filter(|c| !covered.contains(*c))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a fixture in tests/fixtures/bad: {missing:?}"
    );
}

#[test]
fn every_code_is_spelled_only_where_it_is_declared() {
    // A rule names its code by the enum; the code's string lives in the table of
    // `src/explain.rs` alone, so a code written as a string elsewhere has bypassed it.
    let names: Vec<String> = Code::ALL
        .iter()
        .map(|code| format!("\"{}\"", code.name()))
        .collect();
    let mut spelled = Vec::new();
    let mut pending = vec![repo().join("src")];
    let mut files = 0;
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && !path.ends_with("src/explain.rs")
            {
                files += 1;
                let text = fs::read_to_string(&path).unwrap();
                for name in &names {
                    if text.contains(name.as_str()) {
                        spelled.push(format!("{name} in {}", path.display()));
                    }
                }
            }
        }
    }
    assert!(files > 20, "found only {files} source files");
    assert!(spelled.is_empty(), "write these as `Code::…`: {spelled:#?}");
}

const FIVE_MISTAKES: &str = r#"# five mistakes, one run
project = "Acme-ML-Prod"
region = "europe-west3-a"
bucket = "acme-ml-prod-mlflow"
tag = "1.0.0"
environment = "gke"
namspace = "ml"

[server]
replicas = "2"

[credentials]
dir = ".keys"
"#;

#[test]
fn several_problems_are_reported_in_one_run_in_source_order() {
    let source = Source::new("tests/five-mistakes.toml", FIVE_MISTAKES);
    let compiled = mlflow_stack::compile(&source);
    let found: Vec<(&str, usize)> = compiled
        .diagnostics
        .iter()
        .map(|d| (d.code.name(), source.line_col(d.span.start).0))
        .collect();
    assert_eq!(
        found,
        [
            ("invalid-project", 2),
            ("zone-not-region", 3),
            ("unknown-key", 7),
            ("wrong-type", 10),
            ("not-applicable", 12),
        ]
    );
    let rendered = render_all(&source, &compiled);
    assert!(
        rendered.ends_with("tests/five-mistakes.toml: 5 errors, 0 warnings\n"),
        "{rendered}"
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("diagnostics@five-mistakes", rendered));

    // The binary says the same, and counts them.
    let dir = TempDir::new("five");
    let path = dir.path().join("five-mistakes.toml");
    fs::write(&path, FIVE_MISTAKES).unwrap();
    let output = run(&["check", path.to_str().unwrap()]);
    assert_eq!(code(&output), 1);
    assert!(stderr(&output).contains(": 5 errors, 0 warnings\n"));
    let json = run(&["check", "--format", "json", path.to_str().unwrap()]);
    let lines: Vec<u64> = stdout(&json)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["line"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(lines, [2, 3, 7, 10, 12]);
}

#[test]
fn a_duplicate_table_hides_no_other_problem() {
    let text = "project = \"acme-ml-prod\"\nregion = \"europe-west3-a\"\nbucket = \"acme-ml-prod-mlflow\"\ntag = \"1.0.0\"\nenvironment = \"gke\"\n\n[server]\nreplicas = 2\n\n[server]\nmemory = \"1GB\"\n";
    let source = Source::new("dup.toml", text);
    let compiled = mlflow_stack::compile(&source);
    let codes: Vec<&str> = compiled.diagnostics.iter().map(|d| d.code.name()).collect();
    assert_eq!(
        codes,
        ["zone-not-region", "duplicate-key", "invalid-quantity"]
    );
    let duplicate = compiled.diagnostics.iter().nth(1).unwrap();
    assert_eq!(source.line_col(duplicate.related[0].0.start), (7, 2));
}

/// A missing key hides no rule that does not depend on it: a gateway without `host` is
/// still reported open, and an IAP sign-in without members still named.
#[test]
fn a_missing_host_hides_neither_the_missing_auth_nor_the_missing_members() {
    let base = "project = \"acme-ml-prod\"\nregion = \"europe-west3\"\nbucket = \"acme-ml-prod-mlflow\"\ntag = \"1.0.0\"\nenvironment = \"gke\"\n\n[expose]\ntype = \"gateway\"\n";
    for (text, expected) in [
        (base.to_owned(), &["missing-host", "open-by-default"][..]),
        (
            format!(
                "{base}\n[auth]\nkind = \"iap\"\noauth_client_id = \"123456789012-mlflowteam.apps.googleusercontent.com\"\n"
            ),
            &["missing-host", "missing-members"][..],
        ),
        (
            format!("{base}host = \"mlflow.acme.example\"\n"),
            &["open-by-default"][..],
        ),
    ] {
        let source = Source::new("gateway.toml", text.as_str());
        let compiled = mlflow_stack::compile(&source);
        let codes: Vec<&str> = compiled.diagnostics.iter().map(|d| d.code.name()).collect();
        assert_eq!(codes, expected, "{text}");
    }
}

#[test]
fn the_connection_budget_names_the_table_of_the_tier_it_proposes() {
    let (_, compiled) = compile_file(&repo().join("tests/fixtures/bad/connection-budget.toml"));
    let help = compiled
        .diagnostics
        .iter()
        .find(|d| d.code == Code::ConnectionBudget)
        .and_then(|d| d.help.clone())
        .unwrap();
    assert!(help.contains("` in `[database]` ("), "{help}");
}

#[test]
fn an_empty_file_names_every_required_key() {
    let source = Source::new("empty.toml", "");
    let compiled = mlflow_stack::compile(&source);
    assert!(compiled.bundle.is_none());
    let rendered = render_all(&source, &compiled);
    snapshot_settings().bind(|| insta::assert_snapshot!("diagnostics@empty-file", rendered));
}

#[test]
fn check_format_json_prints_one_object_per_diagnostic() {
    for (fixture, status) in [
        ("zone-not-region", 1),
        ("unsafe-character-name-newline", 1),
        ("duplicate-key-table", 1),
        ("latest-tag", 0),
        ("not-utf8", 1),
    ] {
        let path = format!("tests/fixtures/bad/{fixture}.toml");
        let output = run(&["check", "--format", "json", &path]);
        assert_eq!(code(&output), status, "{fixture}: {}", stderr(&output));
        assert_eq!(stderr(&output), "", "{fixture}: json goes to stdout only");
        let text = stdout(&output);
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            for field in [
                "file",
                "line",
                "column",
                "end_line",
                "end_column",
                "severity",
                "code",
                "message",
                "help",
            ] {
                assert!(
                    value.get(field).is_some(),
                    "{fixture}: no `{field}` in {line}"
                );
            }
        }
        snapshot_settings().bind(|| {
            insta::assert_snapshot!(format!("diagnostics@json-{fixture}"), text);
        });
    }
}

#[test]
fn warnings_render_as_warnings_and_deny_warnings_fails_without_writing() {
    let path = "tests/fixtures/bad/open-to-world.toml";
    let output = run(&["check", path]);
    assert_eq!(code(&output), 0);
    let err = stderr(&output);
    assert!(err.contains("⚠") && err.contains("open-to-world"), "{err}");
    assert!(
        err.contains("open-to-world.toml: 0 errors, 1 warning\n"),
        "{err}"
    );

    let denied = run(&["check", "--deny-warnings", path]);
    assert_eq!(code(&denied), 1);
    assert_eq!(
        stderr(&denied),
        err.replace("checked 1 stack: 0 failed", "checked 1 stack: 1 failed"),
        "denying warnings changes the status and the count, not the diagnostics"
    );

    let dir = TempDir::new("deny");
    let out = dir.path().join("bundle");
    let output = run(&[
        "build",
        path,
        "--out",
        out.to_str().unwrap(),
        "--deny-warnings",
    ]);
    assert_eq!(code(&output), 1);
    assert!(
        stderr(&output).contains("not written"),
        "{}",
        stderr(&output)
    );
    assert!(!out.exists());

    let output = run(&["build", path, "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(out.join("open-to-world/kubernetes/service.yaml").exists());
}

/// Every file of a directory, with its bytes.
fn snapshot_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push((path.display().to_string(), fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn an_invalid_stack_leaves_the_previous_bundle_byte_identical() {
    let dir = TempDir::new("identical");
    let out = dir.path().join("bundle");
    let out = out.to_str().unwrap();
    // Each broken stack is saved under the good one's name, so it targets the same bundle.
    let stacks = TempDir::new("identical-stacks");
    let stack = stacks.path().join("example.toml");
    let stack = stack.to_str().unwrap();
    fs::copy("stacks/example.toml", stack).unwrap();
    assert_eq!(code(&run(&["build", stack, "--out", out])), 0);
    let before = snapshot_of(dir.path());
    for fixture in [
        "zone-not-region",
        "toml-syntax-bad-table-header",
        "not-utf8",
        "latest-tag",
    ] {
        fs::copy(
            repo().join(format!("tests/fixtures/bad/{fixture}.toml")),
            stack,
        )
        .unwrap();
        let mut args = vec!["build", stack, "--out", out];
        if fixture == "latest-tag" {
            args.push("--deny-warnings");
        }
        let output = run(&args);
        assert_eq!(code(&output), 1, "{fixture}: {}", stderr(&output));
        assert_eq!(
            snapshot_of(dir.path()),
            before,
            "{fixture} changed the bundle"
        );
    }
}

#[test]
fn io_failures_exit_2_with_the_path_and_the_os_error() {
    let dir = TempDir::new("io");
    // An output directory below a regular file cannot be created.
    fs::write(dir.path().join("file.txt"), "not a directory\n").unwrap();
    let out = dir.path().join("file.txt/bundle");
    let output = run(&[
        "build",
        "stacks/example.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 2);
    let err = stderr(&output);
    assert!(err.contains(out.to_str().unwrap()), "{err}");
    assert!(err.contains("Not a directory (os error 20)"), "{err}");
    assert_eq!(
        fs::read_to_string(dir.path().join("file.txt")).unwrap(),
        "not a directory\n"
    );

    // A stack path that is a directory cannot be read.
    let output = run(&["check", "tests/fixtures"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains(
            "cannot read tests/fixtures: it is a directory; mlflow-stack reads only regular files"
        ),
        "{}",
        stderr(&output)
    );

    // One unreadable stack among good ones still fails the command with 2, after the others.
    let output = run(&["check", "stacks/example.toml", "no/such.toml"]);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("cannot read no/such.toml: No such file or directory"));

    // An output directory that is a regular file is refused, and left alone.
    let output = run(&[
        "build",
        "stacks/example.toml",
        "--out",
        dir.path().join("file.txt").to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(stderr(&output).contains("file.txt"), "{}", stderr(&output));
    assert_eq!(
        fs::read_to_string(dir.path().join("file.txt")).unwrap(),
        "not a directory\n"
    );
}
