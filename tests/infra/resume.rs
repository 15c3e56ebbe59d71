//! An `apply` that stopped halfway (a failed call, a timeout, a run killed between a
//! create and its labels): the next run picks up what the first made, as the stack's.

use super::*;

/// An `apply` that fails in the middle stops there; the next one finds what the first
/// created and ends where a clean `apply` ends.
#[test]
fn a_failed_apply_resumes_where_it_stopped() {
    let sandbox = Sandbox::new(&stack("example"));
    let failed = sandbox.infra_with(&["apply"], &[("FAKE_FAIL", "iam service-accounts create")]);
    failed.failed_as_injected();
    let done = ["services", "bucket", "sql-instance", "database"];
    assert_eq!(failed.results(), sandbox.created()[..done.len()].to_vec());
    let last = failed.calls.last().unwrap();
    assert!(
        last.starts_with("gcloud iam service-accounts create"),
        "{last:?}"
    );

    let resumed = sandbox.infra(&["apply"]).ok();
    let mut expected = sandbox.created();
    for (step, result) in &mut expected {
        if done.contains(&step.as_str()) {
            *result = "exists".into();
        }
    }
    assert_eq!(resumed.results(), expected);

    let clean = Sandbox::new(&stack("example"));
    clean.infra(&["apply"]).ok();
    assert_eq!(sandbox.resources(), clean.resources());
    assert_eq!(sandbox.bindings(), clean.bindings());
}

/// `gcloud sql instances create` gives up waiting after a while and fails while Cloud SQL
/// goes on creating the instance; the next run waits for it before creating the database.
#[test]
fn an_instance_still_being_created_is_waited_for() {
    let sandbox = Sandbox::new(&stack("production"));
    let failed = sandbox.infra_with(
        &["apply"],
        &[
            ("FAKE_FAIL", "sql instances create"),
            ("FAKE_FAIL_AFTER", "1"),
        ],
    );
    failed.failed_as_injected();
    assert!(
        failed.stderr.contains("taking longer than expected"),
        "{}",
        failed.stderr
    );
    let instance = sandbox.resource("sql-instance research-mlflow-db");
    assert_eq!(instance["state"], "PENDING_CREATE");

    let resumed = sandbox.infra(&["apply"]).ok();
    assert_eq!(
        resumed.results()[2],
        ("sql-instance".into(), "exists".into())
    );
    let lines: Vec<String> = resumed.calls.iter().map(Call::line).collect();
    let wait = lines
        .iter()
        .position(|l| l.starts_with("gcloud sql operations wait op-create-research-mlflow-db"))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    let database = lines
        .iter()
        .position(|l| l.starts_with("gcloud sql databases create mlflow"))
        .unwrap();
    assert!(wait < database);
    assert!(
        resumed
            .stdout
            .contains("    waiting for Cloud SQL operation op-create-research-mlflow-db\n")
    );
    assert_eq!(
        sandbox.resource("sql-instance research-mlflow-db")["state"],
        "RUNNABLE"
    );
}

/// A bucket created by a run that stopped before its labels is the stack's on the next run
/// (the record says so before the bucket exists): marked then, and deleted by `destroy`.
#[test]
fn a_bucket_created_but_not_yet_marked_is_the_stacks() {
    let sandbox = Sandbox::new(&stack("local"));
    let plan = &sandbox.plan;
    let failed = sandbox.infra_with(&["apply"], &[("FAKE_FAIL", "storage buckets update")]);
    failed.failed_as_injected();
    let bucket = format!("bucket {}", plan.names.bucket);
    assert!(sandbox.resource(&bucket).get("labels").is_none());
    let run = sandbox.infra(&["apply"]).ok();
    assert_eq!(run.result("bucket"), "updated");
    assert_eq!(
        sandbox.resource(&bucket)["labels"]["mlflow-stack"],
        plan.names.stack_name.as_str()
    );
    sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert!(!sandbox.resources().contains(&bucket));
}

/// An address is created with the stack's mark as its description: a run that stopped
/// before its labels leaves an address the next run marks, not one it adopts.
#[test]
fn an_address_created_but_not_yet_labelled_is_the_stacks() {
    let sandbox = Sandbox::new(&repo().join("tests/fixtures/good/gke-given-image-lb.toml"));
    let plan = &sandbox.plan;
    let failed = sandbox.infra_with(&["apply"], &[("FAKE_FAIL", "compute addresses update")]);
    failed.failed_as_injected();
    let address = format!(
        "address {}/{}",
        plan.names.region,
        plan.exposure.static_ip.as_deref().unwrap()
    );
    assert!(sandbox.resource(&address).get("labels").is_none());
    let run = sandbox.infra(&["apply"]).ok();
    assert_eq!(run.result("static-ip"), "updated");
    assert_eq!(
        sandbox.resource(&address)["labels"]["mlflow-stack"],
        plan.names.stack_name.as_str()
    );
    sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert!(!sandbox.resources().contains(&address));
}
