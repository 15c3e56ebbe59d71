//! `.ci/run`, what CI runs, with every command it runs replaced by a stub that records its
//! call: each section prints its wall time, the run a table of them and the total, also
//! when a section fails (whose status is then the run's); the cluster binaries build in
//! the background from the start, are waited for before the cluster suite, and are
//! stopped when an earlier section fails.
#![cfg(target_os = "linux")]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::{TempDir, code, repo, stdout};

const SECTIONS: [&str; 9] = [
    "cargo fmt --check",
    "cargo clippy",
    "cargo test",
    "client",
    "iap",
    "conformance",
    "image",
    "e2e",
    "cluster",
];

fn script(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, format!("#!/usr/bin/env bash\n{text}")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// `.ci/run` in a copy of the repository's layout whose suites and `cargo` are stubs,
/// each appending its name to `calls`; the suite named in `$FAIL` exits 3. The background
/// build writes its process id to `build.pid`, sleeps `$BUILD_SECONDS` and then appends
/// `build` to `calls`.
fn ci(dir: &TempDir, env: &[(&str, &str)]) -> Output {
    let root = dir.path();
    fs::create_dir_all(root.join(".ci")).unwrap();
    fs::copy(repo().join(".ci/run"), root.join(".ci/run")).unwrap();
    let calls = root.join("calls");
    let call = format!(
        "echo \"$NAME\" >>'{}'; [[ ${{FAIL:-}} != \"$NAME\" ]] || exit 3\n",
        calls.display()
    );
    script(
        &root.join("bin/cargo"),
        &format!("NAME=\"cargo $1\"\n{call}"),
    );
    for (suite, path) in [
        ("client", "client/run-tests.sh"),
        ("iap", "tests/iap/run.sh"),
        ("conformance", "tests/conformance/run.sh"),
        ("image", "tests/image/run.sh"),
        ("e2e", "tests/e2e/run.sh"),
    ] {
        script(&root.join(path), &format!("NAME={suite}\n{call}"));
    }
    script(
        &root.join("tests/cluster/run.sh"),
        &format!(
            "if [[ ${{1:-}} == --build-only ]]; then\n\
             echo $$ >'{pid}'\nsleep \"${{BUILD_SECONDS:-0}}\"\nNAME=build\n{call}exit 0\nfi\n\
             NAME=cluster\n{call}",
            pid = root.join("build.pid").display(),
        ),
    );
    let path = format!(
        "{}:{}",
        root.join("bin").display(),
        std::env::var("PATH").unwrap()
    );
    Command::new("bash")
        .arg(root.join(".ci/run"))
        .env("PATH", path)
        .env("TMPDIR", root)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn calls(dir: &TempDir) -> Vec<String> {
    fs::read_to_string(dir.path().join("calls"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The lines of the closing table without their times (`SECTION`, `SECTION (STATUS)`,
/// `total`), each time checked to read `Mm SSs`.
fn table(output: &Output) -> Vec<String> {
    let out = stdout(output);
    let (_, table) = out
        .split_once("==== wall time per section\n")
        .unwrap_or_else(|| panic!("no table in {out}"));
    table
        .lines()
        .map(|line| {
            let (name, time) = line.split_at(19);
            let (minutes, rest) = time.split_once("m ").unwrap_or_else(|| panic!("{line}"));
            let (seconds, status) = rest.split_once('s').unwrap_or_else(|| panic!("{line}"));
            assert!(
                !minutes.is_empty()
                    && minutes.bytes().all(|b| b.is_ascii_digit())
                    && seconds.len() == 2
                    && seconds.bytes().all(|b| b.is_ascii_digit()),
                "{line}"
            );
            format!("{}{status}", name.trim_end())
        })
        .collect()
}

/// Whether process PID has ended (gone, or a zombie nobody reaped yet).
fn ended(pid: &str) -> bool {
    fs::read_to_string(Path::new("/proc").join(pid).join("stat")).map_or(true, |stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'))
    })
}

#[test]
fn every_section_prints_its_wall_time_and_the_run_its_total() {
    let dir = TempDir::new("ci");
    // A build that outlasts the other sections: the cluster suite waits for it.
    let output = ci(&dir, &[("BUILD_SECONDS", "2")]);
    assert_eq!(code(&output), 0, "{output:?}");
    let out = stdout(&output);
    for section in SECTIONS {
        assert!(out.contains(&format!("\n==== {section}\n")), "{out}");
        assert!(out.contains(&format!("\n==== {section}: 0m 0")), "{out}");
    }
    let mut expected: Vec<String> = SECTIONS.iter().map(|s| (*s).to_owned()).collect();
    expected.push("total".into());
    assert_eq!(table(&output), expected, "{out}");
    assert_eq!(
        calls(&dir),
        [
            "cargo fmt",
            "cargo clippy",
            "cargo test",
            "client",
            "iap",
            "conformance",
            "image",
            "e2e",
            "build",
            "cluster"
        ]
    );
}

#[test]
fn a_failed_section_ends_the_run_with_its_status_its_time_and_the_total() {
    let dir = TempDir::new("ci-failed");
    let output = ci(&dir, &[("FAIL", "image"), ("BUILD_SECONDS", "60")]);
    assert_eq!(code(&output), 3, "{output:?}");
    assert_eq!(
        table(&output),
        [
            "cargo fmt --check",
            "cargo clippy",
            "cargo test",
            "client",
            "iap",
            "conformance",
            "image (failed, exit 3)",
            "total"
        ]
    );
    assert_eq!(
        calls(&dir),
        [
            "cargo fmt",
            "cargo clippy",
            "cargo test",
            "client",
            "iap",
            "conformance",
            "image"
        ]
    );
    // The background build is stopped, not left running for 60 s (or never began).
    let Ok(pid) = fs::read_to_string(dir.path().join("build.pid")) else {
        return;
    };
    for _ in 0..100 {
        if ended(pid.trim()) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the background build {} still runs", pid.trim());
}

#[test]
fn a_failed_background_build_fails_the_cluster_section() {
    let dir = TempDir::new("ci-build");
    let output = ci(&dir, &[("FAIL", "build")]);
    assert_eq!(code(&output), 1, "{output:?}");
    assert_eq!(table(&output).last().unwrap(), "total");
    assert!(
        table(&output).contains(&"cluster (failed, exit 1)".to_owned()),
        "{}",
        stdout(&output)
    );
    assert!(!calls(&dir).contains(&"cluster".to_owned()));
}
