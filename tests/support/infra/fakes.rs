//! The fake tools of a sandbox's `PATH`: one compiled client (`tests/fakes/client.rs`) under
//! each tool's name, which hands every call to the sandbox's `fakecloud.py serve`; and the
//! few system tools the script runs besides them.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::support::repo;

/// The tools the fakes stand for; a new fake tool is also a name in `run()`'s dispatch in
/// `tests/fakes/fakecloud.py`.
pub const FAKES: [&str; 5] = [
    "gcloud",
    "gsutil",
    "kubectl",
    "openssl",
    "gke-gcloud-auth-plugin",
];
/// What the script runs besides the tools it checks for.
pub const SYSTEM_TOOLS: [&str; 17] = [
    "base64",
    "bash",
    "cat",
    "chmod",
    "cut",
    "dirname",
    "find",
    "grep",
    "mkdir",
    "mktemp",
    "rm",
    "sed",
    "sha256sum",
    "sleep",
    "sort",
    "tr",
    "xargs",
];

/// The Python that runs the fakes' server and the pseudo-terminal (`tests/fakes/terminal.py`).
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 runs the fake gcloud, gsutil, kubectl and openssl");
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

/// The fakes' client (`tests/fakes/client.rs`), compiled by rustc once per version of its
/// source into the target directory.
pub fn fake_client() -> &'static Path {
    static CLIENT: OnceLock<PathBuf> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let source = repo().join("tests/fakes/client.rs");
        let digest = Sha256::digest(fs::read(&source).unwrap());
        let name = format!(
            "{:016x}",
            u64::from_be_bytes(digest[..8].try_into().unwrap())
        );
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let client = dir.join(format!("fake-client-{name}"));
        if !client.is_file() {
            let partial = dir.join(format!("fake-client-{name}.{}", std::process::id()));
            let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
            let status = Command::new(rustc)
                .args([
                    "--edition=2024",
                    "-O",
                    "-Cstrip=symbols",
                    // No dynamic loader: the client starts in 0.8 ms instead of 1.1 ms, and
                    // the scripts start it some 20,000 times.
                    "-Ctarget-feature=+crt-static",
                    "-Dwarnings",
                    "-o",
                ])
                .arg(&partial)
                .arg(&source)
                .status()
                .expect("rustc compiles the fakes' client");
            assert!(status.success(), "rustc {}: {status}", source.display());
            fs::rename(&partial, &client).unwrap();
        }
        client
    })
}

/// The fakes' server of one sandbox (`fakecloud.py serve`), which every call of a fake
/// reaches through the client. Killed when dropped; when the test process dies, its stdin
/// (a pipe from here) closes and it exits by itself.
pub struct FakeServer(pub Child);

impl FakeServer {
    /// Starts the server on the state directory STATE (its `state.json`, `calls.jsonl` and
    /// the socket the client connects to), with TMP as its temporary directory; returns once
    /// it listens.
    pub fn start(state: &Path, tmp: &Path) -> Self {
        let mut child = Command::new(python())
            .args(["-I", "-S"])
            .arg(repo().join("tests/fakes/fakecloud.py"))
            .arg("serve")
            .env_clear()
            .env("FAKE_STATE", state)
            .env("TMPDIR", tmp)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the fake gcloud, gsutil, kubectl and openssl");
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready, "ready\n", "the fake server starts");
        Self(child)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The system's TOOL, found on the test's own `PATH`.
pub fn system_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} is not on PATH"))
}
