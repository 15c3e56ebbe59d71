//! What stops every command before it reads or changes anything: a missing tool, no
//! gcloud account, a read that fails for another reason than "not found".

use super::*;

/// Without gcloud there is no plan: a clear failure, not a listing that pretends.
#[test]
fn plan_without_gcloud_or_an_account_fails_clearly() {
    let sandbox = Sandbox::without(&stack("local"), &["gcloud"]);
    let run = sandbox.infra(&["plan"]);
    run.stopped_before_any_step();
    assert_eq!(
        run.stderr,
        "infra.sh: gcloud is required but not installed: install the Google Cloud CLI and run 'gcloud auth login'\n"
    );

    let sandbox = Sandbox::new(&stack("local"));
    sandbox.seed("auth logged-out", json!({}));
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    run.stopped_before_any_step();
    assert_eq!(
        run.stderr,
        "infra.sh: no authenticated gcloud account: run 'gcloud auth login'\n"
    );
}

/// A read that fails for another reason than "not found" (here IAM's answer to a caller
/// without `storage.buckets.get`) is an error: `plan --detailed-exitcode` exits 1, not 2
/// with a create; `apply` and `destroy` change nothing.
#[test]
fn a_failed_read_is_an_error_not_an_absence() {
    let sandbox = Sandbox::new(&stack("local"));
    sandbox.infra(&["apply"]).ok();
    sandbox.seed(
        "denied storage buckets describe",
        json!({"permission": "storage.buckets.get"}),
    );
    for args in [
        &["plan", "--detailed-exitcode"][..],
        &["apply"],
        &["destroy", "--plan"],
        &["destroy", "--yes", "--delete-data"],
    ] {
        let run = sandbox.infra(args);
        run.stopped_before_any_change();
        assert!(
            run.stderr.starts_with(
                "infra.sh: cannot read what gcloud storage buckets describe gs://acme-ml-dev-mlflow"
            ),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            run.stderr.ends_with(
                "PERMISSION_DENIED: Permission 'storage.buckets.get' denied on resource (or it may not exist).\n"
            ),
            "{}",
            run.stderr
        );
        assert!(!run.stdout.contains("Nothing to delete."), "{args:?}");
    }
}

/// `destroy` runs the preflight of `plan` and `apply` before it reads anything: logged out
/// of gcloud, it stops at once instead of finding "nothing to delete".
#[test]
fn destroy_logged_out_stops_at_the_preflight() {
    let sandbox = Sandbox::new(&stack("local"));
    sandbox.infra(&["apply"]).ok();
    sandbox.seed("auth logged-out", json!({}));
    for args in [&["destroy", "--plan"][..], &["destroy", "--yes"]] {
        let run = sandbox.infra(args);
        run.stopped_before_any_step();
        assert_eq!(
            run.stderr,
            "infra.sh: no authenticated gcloud account: run 'gcloud auth login'\n"
        );
    }
}

#[test]
fn a_missing_tool_is_named_before_anything_runs() {
    let cases = [
        (
            "gcloud",
            "infra.sh: gcloud is required but not installed: install the Google Cloud CLI and run 'gcloud auth login'\n",
        ),
        (
            "kubectl",
            "infra.sh: kubectl is required but not installed: install kubectl ('gcloud components install kubectl')\n",
        ),
        (
            "openssl",
            "infra.sh: openssl is required but not installed: install OpenSSL (it generates the database password)\n",
        ),
    ];
    for (tool, message) in cases {
        let sandbox = Sandbox::without(&stack("example"), &[tool]);
        for args in [&["apply"][..], &["apply", "bucket"], &["destroy", "--yes"]] {
            let run = sandbox.infra(args);
            run.stopped_before_any_step();
            assert_eq!(run.stderr, message, "{tool} {args:?}");
            assert!(run.calls.is_empty());
        }
    }
}
