//! Hostile files and paths: the CLI reads only regular files, never prints a file the bundle
//! would not write, never deletes a file it did not write, and keeps untrusted names off the
//! terminal. Each test is the README's security section, sentence by sentence.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{TempDir, bin, code, run, run_in, stderr, stdout};

const GOOD: &str = "project = \"acme-ml-prod\"\nregion = \"europe-west3\"\nbucket = \"acme-ml-prod-mlflow\"\ntag = \"1.0.0\"\nenvironment = \"gke\"\n";
const SECRET: &str = "-----BEGIN PRIVATE KEY-----\nTOP-SECRET-VALUE\n";

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A stack file and its freshly built bundle in a scratch directory.
fn built(label: &str) -> (TempDir, String, String) {
    let dir = TempDir::new(label);
    let stack = dir.path().join("stack.toml");
    fs::write(&stack, GOOD).unwrap();
    let out = dir.path().join("bundle");
    let output = run(&["build", s(&stack), "--out", s(&out)]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    (dir, s(&stack).to_owned(), s(&out).to_owned())
}

/// Where `build --out OUT` writes the bundle of `stack.toml`.
fn bundle_dir(out: &str) -> std::path::PathBuf {
    Path::new(out).join("stack")
}

fn assert_secret_not_printed(output: &Output) {
    for text in [stdout(output), stderr(output)] {
        assert!(!text.contains("TOP-SECRET-VALUE"), "{text}");
    }
}

/// Runs the binary with a deadline: a read that blocks (a FIFO) fails the test instead of
/// hanging it.
fn run_with_deadline(args: &[&str]) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("mlflow-stack {args:?} did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_stack_file_that_is_a_symbolic_link_is_refused_without_showing_its_target() {
    let dir = TempDir::new("stack-link");
    let target = dir.path().join("secret.txt");
    fs::write(&target, format!("{SECRET}project = 1\n")).unwrap();
    let link = dir.path().join("stack.toml");
    symlink(&target, &link).unwrap();
    for command in ["check", "manifests"] {
        let output = run(&[command, s(&link)]);
        assert_eq!(code(&output), 2, "{}", stderr(&output));
        assert!(
            stderr(&output)
                .contains("it is a symbolic link; mlflow-stack reads only regular files"),
            "{}",
            stderr(&output)
        );
        assert_secret_not_printed(&output);
    }
}

#[test]
fn a_fifo_a_device_and_a_directory_are_not_stack_files() {
    let dir = TempDir::new("stack-special");
    let fifo = dir.path().join("fifo.toml");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    for (path, kind) in [
        (s(&fifo), "a FIFO"),
        ("/dev/zero", "a device"),
        (s(dir.path()), "a directory"),
    ] {
        let output = run_with_deadline(&["check", path]);
        assert_eq!(code(&output), 2, "{path}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(&format!("it is {kind};")),
            "{}",
            stderr(&output)
        );
    }
}

/// `/proc/self/environ` is a "regular file" of size 0 that reads as the environment, and
/// diagnostics would show it: a pseudo-file is refused unread, whatever the command.
#[test]
fn a_pseudo_file_is_not_a_stack_file_and_its_content_is_never_printed() {
    let dir = TempDir::new("pseudo");
    let out = dir.path().join("deploy");
    for path in [
        "/proc/self/environ",
        "/proc/self/cmdline",
        "/proc/self/status",
    ] {
        for args in [
            vec!["check", path],
            vec!["manifests", path],
            vec!["build", path, "--out", s(&out)],
            vec!["build", path, "--out", s(&out), "--check"],
        ] {
            let output = bin()
                .env("MLFLOW_STACK_TEST_SECRET", "TOP-SECRET-VALUE")
                .args(&args)
                .output()
                .unwrap();
            assert_eq!(code(&output), 2, "{args:?}: {}", stderr(&output));
            assert!(
                stderr(&output).contains(&format!(
                    "cannot read {path}: it is a pseudo-file of procfs; mlflow-stack reads only regular files"
                )),
                "{args:?}: {}",
                stderr(&output)
            );
            assert_secret_not_printed(&output);
            assert!(!stderr(&output).contains("MLFLOW_STACK_TEST_SECRET"));
        }
    }
    assert!(!out.exists());
}

/// A bundle directory is named after its stack file's stem: a name with a control
/// character or a bidirectional override would make a directory of that name.
#[test]
fn a_stack_file_name_with_control_characters_builds_no_directory() {
    let dir = TempDir::new("control-name");
    let out = dir.path().join("deploy");
    for name in ["evil\u{1b}[2J.toml", "tab\there.toml", "\u{202e}lmot.toml"] {
        let stack = dir.path().join(name);
        fs::write(&stack, GOOD).unwrap();
        for extra in [&[][..], &["--check"][..]] {
            let mut args = vec!["build", s(&stack), "--out", s(&out)];
            args.extend(extra);
            let output = run(&args);
            assert_eq!(code(&output), 2, "{name:?}: {}", stderr(&output));
            let err = stderr(&output);
            assert!(
                err.contains("its bundle directory would be named after it")
                    && err.contains("rename the file"),
                "{err}"
            );
            assert!(
                !err.contains('\u{1b}') && !err.contains('\u{202e}') && !err.contains('\t'),
                "{err}"
            );
        }
        // `check` writes nothing and still works on it.
        assert_eq!(code(&run(&["check", s(&stack)])), 0);
        fs::remove_file(&stack).unwrap();
    }
    assert!(!out.exists());
}

#[test]
fn a_stack_file_over_the_size_cap_is_refused() {
    let dir = TempDir::new("stack-huge");
    let huge = dir.path().join("huge.toml");
    fs::write(&huge, "#".repeat(5 << 20)).unwrap();
    let output = run(&["check", s(&huge)]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("it is larger than 4 MiB"),
        "{}",
        stderr(&output)
    );
}

/// What a test plants in a built bundle directory, in place of a bundle file or beside them.
#[derive(Debug, Clone, Copy)]
enum Plant {
    /// A symbolic link to a secret.
    Link,
    /// A regular file holding a secret.
    File,
    /// A FIFO: opening it for reading would block.
    Fifo,
    /// An empty directory.
    Dir,
}

/// Whatever is planted in a bundle directory (a link to a secret beside the bundle's files
/// or in place of one, a key file, a FIFO, an empty directory), `build` and `build --check` name it and what to
/// do, never print its content or block on it, refuse the directory and leave the planted
/// entry as it was.
#[test]
fn what_is_planted_in_a_bundle_is_named_never_printed_never_deleted() {
    let cases = [
        (
            Plant::Link,
            "kubernetes/leak.yaml",
            "kubernetes/leak.yaml (a symbolic link)",
        ),
        (
            Plant::Link,
            "kubernetes/deployment.yaml",
            "kubernetes/deployment.yaml (a symbolic link)",
        ),
        (
            Plant::File,
            "mlflow-server-key.json",
            "mlflow-server-key.json (not part of the bundle)",
        ),
        (
            Plant::Fifo,
            "kubernetes/pipe.yaml",
            "kubernetes/pipe.yaml (a FIFO)",
        ),
        (Plant::Fifo, "infra.sh", "infra.sh (a FIFO)"),
        (Plant::Dir, "notes", "notes (an empty directory)"),
        (
            Plant::Dir,
            "kubernetes/overlay",
            "kubernetes/overlay (an empty directory)",
        ),
    ];
    for (plant, name, named) in cases {
        let (dir, stack, out) = built("planted");
        let secret = dir.path().join("environ");
        fs::write(&secret, SECRET).unwrap();
        let path = bundle_dir(&out).join(name);
        let _ = fs::remove_file(&path);
        match plant {
            Plant::Link => symlink(&secret, &path).unwrap(),
            Plant::File => fs::write(&path, SECRET).unwrap(),
            Plant::Fifo => assert!(
                Command::new("mkfifo")
                    .arg(&path)
                    .status()
                    .unwrap()
                    .success()
            ),
            Plant::Dir => fs::create_dir(&path).unwrap(),
        }
        // A changed stack: build would replace the directory.
        fs::write(&stack, GOOD.replace("1.0.0", "1.0.1")).unwrap();
        for extra in [&["--check"][..], &[]] {
            let mut args = vec!["build", stack.as_str(), "--out", out.as_str()];
            args.extend_from_slice(extra);
            let output = run_with_deadline(&args);
            let err = stderr(&output);
            assert_eq!(code(&output), 2, "{name} {extra:?}: {err}");
            assert_secret_not_printed(&output);
            assert!(err.contains(named), "{name} {extra:?}: {err}");
            assert!(
                err.contains("move it out of the bundle directory"),
                "{name} {extra:?}: {err}"
            );
        }
        // Refused, not replaced: what was planted is still there, as it was.
        let kept = fs::symlink_metadata(&path).unwrap().file_type();
        match plant {
            Plant::Link => assert!(kept.is_symlink(), "{name}"),
            Plant::File => assert_eq!(fs::read_to_string(&path).unwrap(), SECRET),
            Plant::Fifo => assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kept), "{name}"),
            Plant::Dir => assert!(kept.is_dir(), "{name}"),
        }
    }
}

#[test]
fn check_refuses_a_directory_that_is_not_a_bundle_without_printing_it() {
    let dir = TempDir::new("check-foreign-dir");
    let stack = dir.path().join("stack.toml");
    fs::write(&stack, GOOD).unwrap();
    let out = dir.path().join("deploy");
    let notes = out.join("stack");
    fs::create_dir_all(&notes).unwrap();
    fs::write(notes.join("README.md"), SECRET).unwrap();
    let output = run(&["build", s(&stack), "--out", s(&out), "--check"]);
    assert_eq!(code(&output), 2);
    assert_secret_not_printed(&output);
    assert!(
        stderr(&output).contains("is not empty and is not a bundle written by mlflow-stack"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn check_names_a_generated_file_the_bundle_no_longer_writes_without_printing_it() {
    let (_dir, stack, out) = built("orphan");
    let orphan = bundle_dir(&out).join("kubernetes/old.yaml");
    fs::write(
        &orphan,
        "# generated by mlflow-stack from stack.toml; do not edit\nTOP-SECRET-VALUE\n",
    )
    .unwrap();
    let output = run(&["build", &stack, "--out", &out, "--check"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert_secret_not_printed(&output);
    assert!(
        stdout(&output).contains("kubernetes/old.yaml: no longer part of the bundle"),
        "{}",
        stdout(&output)
    );
    let output = run(&["build", &stack, "--out", &out]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(!orphan.exists());
}

#[test]
fn out_that_is_a_symbolic_link_is_refused_and_both_stay_as_they_were() {
    let (dir, stack, out) = built("out-link");
    // --out itself a link, and a bundle directory in --out a link.
    let link = dir.path().join("current");
    symlink(&out, &link).unwrap();
    let other = dir.path().join("other");
    fs::create_dir(&other).unwrap();
    let bundle_link = other.join("stack");
    symlink(bundle_dir(&out), &bundle_link).unwrap();
    fs::write(&stack, GOOD.replace("1.0.0", "1.0.1")).unwrap();
    let before = fs::read_to_string(bundle_dir(&out).join("infra.sh")).unwrap();
    for out in [&link, &other] {
        for extra in [&["--check"][..], &[]] {
            let mut args = vec!["build", stack.as_str(), "--out", s(out)];
            args.extend_from_slice(extra);
            let output = run(&args);
            assert_eq!(code(&output), 2, "{}", stderr(&output));
            assert!(
                stderr(&output)
                    .contains("is a symbolic link; mlflow-stack writes only a real directory"),
                "{}",
                stderr(&output)
            );
        }
    }
    assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    assert!(fs::symlink_metadata(&bundle_link).unwrap().is_symlink());
    assert_eq!(
        fs::read_to_string(bundle_dir(&out).join("infra.sh")).unwrap(),
        before
    );
}

/// Starts 96 builds at once with bash, half of each stack, into `out` under `dir`: the
/// stderr of those that printed an error, and how many failed.
fn build_at_once(dir: &Path, stacks: [&str; 2]) -> (Vec<String>, usize) {
    let script = r#"
        mkdir -p out
        for i in $(seq 1 96); do
          stack=$FIRST; (( i % 2 )) || stack=$SECOND
          "$BIN" build "$stack" --out out >/dev/null 2>"err.$i" &
          pids+=("$!")
        done
        failed=0
        for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
        echo "$failed"
    "#;
    let output = Command::new("bash")
        .args(["-c", script])
        .current_dir(dir)
        .env("BIN", env!("CARGO_BIN_EXE_mlflow-stack"))
        .env("FIRST", stacks[0])
        .env("SECOND", stacks[1])
        .output()
        .unwrap();
    let errors = (1..=96)
        .filter_map(|i| fs::read_to_string(dir.join(format!("err.{i}"))).ok())
        .filter(|e| e.contains("error"))
        .collect();
    (errors, stdout(&output).trim().parse().unwrap())
}

fn only_the_bundle_is_left(dir: &Path) {
    let entries: Vec<String> = fs::read_dir(dir.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, ["stack"]);
}

#[test]
fn concurrent_builds_into_one_directory_all_succeed_and_leave_nothing_behind() {
    let dir = TempDir::new("concurrent");
    // A bundle of the stack's previous version, then 96 builds of the new one at once:
    // each stages a bundle and swaps it in.
    fs::write(dir.path().join("stack.toml"), GOOD).unwrap();
    let output = run_in(dir.path(), &["build", "stack.toml", "--out", "out"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    fs::write(
        dir.path().join("stack.toml"),
        GOOD.replace("1.0.0", "2.0.0"),
    )
    .unwrap();
    let (errors, failed) = build_at_once(dir.path(), ["stack.toml", "./stack.toml"]);
    assert_eq!(failed, 0, "{errors:?}");
    only_the_bundle_is_left(dir.path());
    let output = run_in(
        dir.path(),
        &["build", "stack.toml", "--out", "out", "--check"],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
}

#[test]
fn concurrent_builds_of_two_stacks_of_one_name_leave_one_whole_bundle() {
    let dir = TempDir::new("concurrent-two");
    // Two stacks with one file name: both would build into out/stack. A build that finds
    // the other's bundle refuses it; one that raced it wins; nothing else is left.
    for tag in ["1.0.0", "2.0.0"] {
        fs::create_dir(dir.path().join(tag)).unwrap();
        fs::write(
            dir.path().join(tag).join("stack.toml"),
            GOOD.replace("1.0.0", tag),
        )
        .unwrap();
    }
    let (errors, failed) = build_at_once(dir.path(), ["1.0.0/stack.toml", "2.0.0/stack.toml"]);
    assert_eq!(errors.len(), failed);
    for error in &errors {
        assert!(
            error.contains("another stack file of the same name"),
            "{error}"
        );
    }
    only_the_bundle_is_left(dir.path());
    // One complete bundle of one of the two stacks.
    let out = dir.path().join("out");
    let fresh = ["1.0.0/stack.toml", "2.0.0/stack.toml"]
        .iter()
        .any(|stack| {
            let stack = dir.path().join(stack);
            code(&run(&["build", s(&stack), "--out", s(&out), "--check"])) == 0
        });
    assert!(fresh);
}

#[test]
fn untrusted_file_names_never_reach_the_terminal_raw() {
    let dir = TempDir::new("escape");
    let name = "evil\u{1b}]0;pwned\u{7}\u{202e}lmot.toml";
    let stack = dir.path().join(name);
    fs::write(&stack, GOOD.replace("europe-west3", "europe-west3-a")).unwrap();
    let output = run(&["check", s(&stack)]);
    assert_eq!(code(&output), 1);
    let err = stderr(&output);
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}') && !err.contains('\u{202e}'));
    assert!(
        err.contains("evil\\u{1b}]0;pwned\\u{7}\\u{202e}lmot.toml"),
        "{err}"
    );
    let good = dir.path().join("good.toml");
    fs::write(&good, GOOD).unwrap();
    let out = dir.path().join("out\u{1b}[2J");
    let output = run(&["build", s(&good), "--out", s(&out)]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("out\\u{1b}[2J"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains('\u{1b}'));
    let missing = dir.path().join("gone\u{1b}[31m.toml");
    let output = run(&["check", s(&missing)]);
    assert_eq!(code(&output), 2);
    assert!(!stderr(&output).contains('\u{1b}'), "{}", stderr(&output));
}

#[test]
fn at_most_100_diagnostics_per_file_are_rendered_then_the_rest_counted() {
    let dir = TempDir::new("many");
    let mut text = GOOD.to_owned();
    for i in 0..150 {
        let _ = writeln!(text, "unknown_{i:03} = 1");
    }
    let stack = dir.path().join("many.toml");
    fs::write(&stack, text).unwrap();
    let output = run(&["check", s(&stack)]);
    assert_eq!(code(&output), 1);
    let err = stderr(&output);
    assert_eq!(err.matches("× unknown key `").count(), 100, "{err}");
    assert!(err.contains("unknown key `unknown_099`"), "{err}");
    assert!(!err.contains("unknown key `unknown_100`"), "{err}");
    assert!(
        err.contains(&format!("… and 50 more diagnostics in {}\n", s(&stack))),
        "{err}"
    );
    assert!(err.contains("many.toml: 150 errors, 0 warnings\n"), "{err}");
}

/// What a proptest plants in a freshly built bundle directory.
#[derive(Debug, Clone)]
enum Planted {
    /// A file mlflow-stack did not write, holding a secret.
    Foreign(String),
    /// A link to a secret, in place of a file or beside them.
    Link(String),
    /// A FIFO.
    Fifo(String),
    /// A bundle file edited by hand (its content may be printed: the bundle writes it).
    Edited(usize),
}

fn planted() -> impl proptest::strategy::Strategy<Value = Planted> {
    use proptest::prelude::*;
    let name = prop_oneof![
        "[a-z]{1,8}\\.(json|yaml|txt)",
        "kubernetes/[a-z]{1,8}\\.yaml",
        "image/[a-z.]{1,8}",
        "\\.[a-z]{1,6}",
        "kubernetes/deployment\\.yaml",
        "README\\.md",
    ];
    prop_oneof![
        name.clone().prop_map(Planted::Foreign),
        name.clone().prop_map(Planted::Link),
        name.prop_map(Planted::Fifo),
        (0usize..12).prop_map(Planted::Edited),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config { cases: 48, ..Default::default() })]

    /// Whatever a bundle directory holds, `--check` and `build` never print a secret, never
    /// follow a link, never block on a FIFO, and never delete what they did not write.
    #[test]
    fn whatever_the_directory_holds_nothing_foreign_is_printed_or_deleted(
        plants in proptest::collection::vec(planted(), 1..5)
    ) {
        use mlflow_stack::source::Source;
        use mlflow_stack::write;
        let dir = TempDir::new("prop-dir");
        let secret = dir.path().join("secret");
        fs::write(&secret, SECRET).unwrap();
        let bundle = mlflow_stack::compile(&Source::new("stack.toml", GOOD)).bundle.unwrap();
        let out = dir.path().join("stack");
        write::write(&bundle, &out).unwrap();
        let mut foreign = Vec::new();
        let mut marker_touched = false;
        for plant in &plants {
            // A regular file where the bundle writes one is that file edited by hand: the
            // diff may show it (without the secret, which is for foreign files). It replaces
            // whatever an earlier plant put there (never written through: an earlier FIFO
            // would block the write, an earlier link would redirect it).
            let edited = match plant {
                Planted::Edited(index) => bundle.files.keys().nth(index % bundle.files.len()),
                Planted::Foreign(name) => bundle.files.get_key_value(name).map(|(name, _)| name),
                _ => None,
            };
            if let Some(name) = edited {
                let path = out.join(name);
                let _ = fs::remove_file(&path);
                fs::write(&path, "edited by hand\n").unwrap();
                foreign.retain(|planted| planted != name);
                marker_touched |= name == "README.md";
                continue;
            }
            let (name, path) = match plant {
                Planted::Edited(_) => unreachable!("an edit is handled above"),
                Planted::Foreign(name) | Planted::Link(name) | Planted::Fifo(name) => {
                    (name.clone(), out.join(name))
                }
            };
            if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            let _ = fs::remove_file(&path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            match plant {
                Planted::Foreign(_) => fs::write(&path, SECRET).unwrap(),
                Planted::Link(_) => symlink(&secret, &path).unwrap(),
                _ => {
                    let status = Command::new("mkfifo").arg(&path).status().unwrap();
                    proptest::prop_assert!(status.success());
                }
            }
            foreign.push(name);
        }
        let diff = write::diff(&bundle, &out);
        let written = write::write(&bundle, &out);
        let printed = [
            diff.as_ref().map_or_else(ToString::to_string, Clone::clone),
            written.as_ref().map_or_else(ToString::to_string, |_| String::new()),
        ];
        for text in printed {
            proptest::prop_assert!(!text.contains("TOP-SECRET-VALUE"), "{text}");
        }
        if foreign.is_empty() && !marker_touched {
            proptest::prop_assert!(written.is_ok(), "{written:?}");
        } else {
            proptest::prop_assert!(written.is_err(), "{foreign:?}");
            for name in &foreign {
                proptest::prop_assert!(fs::symlink_metadata(out.join(name)).is_ok(), "{name} deleted");
            }
        }
    }

    /// Every character that could drive or disguise a terminal is escaped.
    #[test]
    fn printable_text_holds_no_control_or_bidi_character(text in "\\PC*|[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{200b}-\\u{200f}\\u{202a}-\\u{202e}\\u{2066}-\\u{2069}a-z]*") {
        let shown = mlflow_stack::printable::printable(&text);
        proptest::prop_assert!(!shown.chars().any(mlflow_stack::printable::is_unsafe), "{shown:?}");
    }

    /// `credentials.dir` is accepted exactly when it is a plain relative path below the
    /// working directory.
    #[test]
    fn credentials_dir_is_accepted_only_below_the_working_directory(
        parts in proptest::collection::vec(prop_oneof_parts(), 1..5),
        absolute in proptest::bool::ANY,
    ) {
        let path = format!("{}{}", if absolute { "/" } else { "" }, parts.join("/"));
        let below = !absolute
            && parts.iter().all(|p| !p.is_empty() && p != "." && p != "..")
            && !path.starts_with('-');
        let accepted = mlflow_stack::model::DirPath::parse(&path).is_ok();
        proptest::prop_assert_eq!(accepted, below, "{}", path);
    }
}

fn prop_oneof_parts() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        Just(String::new()),
        Just(".".to_owned()),
        Just("..".to_owned()),
        "[a-z_.][a-z0-9_.-]{0,8}",
    ]
}
