//! `gcloud`, `gsutil`, `kubectl` and `openssl` for the infra.sh tests: one small binary
//! that their harness (tests/support/infra/fakes.rs) compiles and links under each tool's
//! name. It hands the call to the sandbox's fake server (`fakecloud.py serve`, listening on
//! `$FAKE_STATE/fake.sock`) and relays the answer: the fake's stdout, its stderr, its exit
//! status. The request and the answer are described next to `serve()` in fakecloud.py.
//!
//! Stdin is read to its end and sent only when an argument names it (`-`, `…=-`,
//! `…/dev/stdin`), as the real tools read it only then: a call inside a `while read` loop
//! must leave the loop's input alone.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::exit;

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    let size = u32::try_from(bytes.len()).expect("a field under 4 GiB");
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(bytes);
}

fn number(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).expect("a count under 2^32").to_be_bytes());
}

fn names_stdin(arg: &[u8]) -> bool {
    arg == b"-" || arg.ends_with(b"=-") || arg.windows(10).any(|w| w == b"/dev/stdin")
}

fn fail(tool: &str, message: &str) -> ! {
    eprintln!("fake {tool}: {message}");
    exit(127)
}

/// The field at `at` of `answer`, and where the next one starts.
fn take(tool: &str, answer: &[u8], at: usize) -> (Vec<u8>, usize) {
    let header = answer
        .get(at..at + 4)
        .unwrap_or_else(|| fail(tool, "a truncated answer from the fake server"));
    let size = u32::from_be_bytes(header.try_into().unwrap()) as usize;
    let body = answer
        .get(at + 4..at + 4 + size)
        .unwrap_or_else(|| fail(tool, "a truncated answer from the fake server"));
    (body.to_vec(), at + 4 + size)
}

fn main() {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let tool = Path::new(&argv0)
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let argv: Vec<OsString> = args.collect();
    let state =
        std::env::var_os("FAKE_STATE").unwrap_or_else(|| fail(&tool, "FAKE_STATE is not set"));
    let socket = Path::new(&state).join("fake.sock");

    let mut request = Vec::new();
    field(&mut request, tool.as_bytes());
    let cwd = std::env::current_dir().unwrap_or_else(|error| fail(&tool, &format!("cwd: {error}")));
    field(&mut request, cwd.as_os_str().as_bytes());
    number(&mut request, argv.len());
    for arg in &argv {
        field(&mut request, arg.as_bytes());
    }
    let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    number(&mut request, env.len());
    for (name, value) in &env {
        let mut entry = name.as_bytes().to_vec();
        entry.push(b'=');
        entry.extend_from_slice(value.as_bytes());
        field(&mut request, &entry);
    }
    if argv.iter().any(|arg| names_stdin(arg.as_bytes())) {
        let mut stdin = Vec::new();
        std::io::stdin()
            .read_to_end(&mut stdin)
            .unwrap_or_else(|error| fail(&tool, &format!("stdin: {error}")));
        number(&mut request, 1);
        field(&mut request, &stdin);
    } else {
        number(&mut request, 0);
    }

    let mut stream = UnixStream::connect(&socket).unwrap_or_else(|error| {
        fail(
            &tool,
            &format!("no fake server at {}: {error}", socket.display()),
        )
    });
    stream
        .write_all(&request)
        .unwrap_or_else(|error| fail(&tool, &format!("sending the call: {error}")));
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .unwrap_or_else(|error| fail(&tool, &format!("reading the answer: {error}")));
    let status = answer
        .get(..4)
        .map(|code| i32::from_be_bytes(code.try_into().unwrap()))
        .unwrap_or_else(|| fail(&tool, "no answer from the fake server"));
    let (stdout, at) = take(&tool, &answer, 4);
    let (stderr, _) = take(&tool, &answer, at);
    // A closed pipe downstream is the reader's business, as with the real tools.
    let _ = std::io::stdout().write_all(&stdout);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(&stderr);
    exit(status)
}
