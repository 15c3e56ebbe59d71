//! The fakes themselves behave as the tools they stand for where a script can tell:
//! concurrent calls, stdin, and a server that never outlives its test.

use super::*;

/// The tools of a pipeline, and calls sent to the background, run at the same time: the
/// fakes' server runs them one after the other, so that no change is lost.
#[test]
fn concurrent_calls_change_the_state_one_after_the_other() {
    let sandbox = Sandbox::new(&stack("local"));
    let script = "for i in {1..24}; do \
        gcloud services enable --project=p s$i.googleapis.com & done; wait";
    let output = sandbox.command(&["-c", script], &[], &[]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let services = sandbox.resources_of(&["service"]);
    assert_eq!(services.len(), 24, "{services:#?}");
    assert_eq!(sandbox.calls().len(), 24);
}

/// Like the real tools, a fake reads stdin only when an argument names it (`-`,
/// `/dev/stdin`): a call inside a `while read` loop leaves the loop's input alone, and a
/// call that names stdin gets all of it.
#[test]
fn a_fake_reads_stdin_only_when_an_argument_names_it() {
    let sandbox = Sandbox::new(&stack("local"));
    let script = "printf '%s\\n' a b c | while read -r x; do \
        gcloud services enable --project=p s$x.googleapis.com; done; \
        printf 'line one\\nline two' | kubectl create secret generic s \
        --from-file=k=/dev/stdin --dry-run=client -o yaml";
    let output = sandbox.command(&["-c", script], &[], &[]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        sandbox.resources_of(&["service"]),
        [
            "service sa.googleapis.com",
            "service sb.googleapis.com",
            "service sc.googleapis.com"
        ]
    );
    let yaml = String::from_utf8(output.stdout).unwrap();
    assert!(yaml.contains("  k: bGluZSBvbmUKbGluZSB0d28=\n"), "{yaml}");
}

/// A fakes' server never outlives its test: it exits by itself when the test's end of its
/// stdin closes, as it does when the test process dies.
#[test]
fn the_fake_server_exits_when_its_test_is_gone() {
    let dir = TempDir::new("infra-server");
    let mut server = FakeServer::start(dir.path(), dir.path());
    drop(server.0.stdin.take());
    let mut waited = 0;
    while server.0.try_wait().unwrap().is_none() {
        assert!(waited < 600, "the server is still running 60 s later");
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
}
