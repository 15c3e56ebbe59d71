//! What `infra.sh` owns, and what it never touches: another stack's resources (two stack
//! files with one `name` in one project), IAM bindings it did not grant, a bucket of the
//! same name in another project; and the bindings it granted, recorded, revoked when the
//! stack no longer lists them and by `destroy`.

use super::*;

/// Adds IAM bindings `[resource, role, member, condition title]` to the fake project.
fn seed_bindings(sandbox: &Sandbox, bindings: &[[&str; 4]]) {
    let mut state = sandbox.state();
    for binding in bindings {
        state["bindings"]
            .as_array_mut()
            .unwrap()
            .push(json!(binding));
    }
    fs::write(
        sandbox.path("state/state.json"),
        serde_json::to_string(&state).unwrap(),
    )
    .unwrap();
}

/// The fake project without the resource KEY, as if deleted by hand.
fn unseed(sandbox: &Sandbox, key: &str) {
    let mut state = sandbox.state();
    state["resources"].as_object_mut().unwrap().remove(key);
    fs::write(
        sandbox.path("state/state.json"),
        serde_json::to_string(&state).unwrap(),
    )
    .unwrap();
}

/// A run that stopped before its first change, with MESSAGE on stderr.
fn refused(run: &Run, message: &str) {
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains(message), "{}", run.stderr);
    assert_eq!(run.mutating(), Vec::<String>::new(), "{}", run.stdout);
}

/// Two stack files in one project that both keep the default `name`, with different
/// buckets (a prod and a staging): staging's `plan`, `apply` and `destroy` refuse prod's
/// resources before any change, and name prod by its bucket.
#[test]
fn another_stacks_resources_are_refused_before_any_change() {
    let scratch = TempDir::new("two-stacks");
    let mut sandbox = Sandbox::new(&stack("example"));
    let prod = sandbox.plan.clone();
    sandbox.infra(&["apply"]).ok();
    let before = sandbox.state();

    let staging = changed_stack(
        &scratch,
        "example",
        &[(
            &format!("bucket = \"{}\"", prod.bucket),
            "bucket = \"acme-ml-staging-mlflow\"",
        )],
        "",
    );
    sandbox.rebuild(&staging);
    assert_eq!(sandbox.plan.stack_name, prod.stack_name);
    assert_ne!(sandbox.plan.stack_id, prod.stack_id);
    let other = format!(
        "belongs to another stack: name {}, identity {}, bucket gs://{}",
        prod.stack_name, prod.stack_id, prod.bucket
    );
    refused(&sandbox.infra(&["plan", "--detailed-exitcode"]), &other);
    refused(&sandbox.infra(&["apply"]), &other);
    refused(&sandbox.infra(&["destroy", "--plan"]), &other);
    refused(
        &sandbox.infra(&["destroy", "--yes", "--delete-data"]),
        &other,
    );
    assert_eq!(sandbox.state()["resources"], before["resources"]);
    assert_eq!(sandbox.state()["bindings"], before["bindings"]);
}

/// Bucket names are global. A bucket of the stack's name in another project is refused on
/// the first `apply` (with the Storage API on: the bucket step refuses it otherwise), and when it replaces the stack's own bucket (deleted by hand, its
/// name taken elsewhere) `plan`, `apply` and `destroy --delete-data` refuse it too, before
/// any change, though the record says the stack created its bucket.
#[test]
fn a_bucket_in_another_project_is_refused_before_any_change() {
    let sandbox = Sandbox::new(&stack("local"));
    let bucket = format!("bucket {}", sandbox.plan.bucket);
    let elsewhere = json!({"name": sandbox.plan.bucket, "location": "EUROPE-WEST3",
        "project_number": "123456789012", "uniform_bucket_level_access": true,
        "public_access_prevention": "enforced"});
    let message = format!(
        "bucket gs://{} belongs to project number 123456789012, not to {}",
        sandbox.plan.bucket, sandbox.plan.project
    );
    // Its APIs on, as in most projects: the bucket can be read before anything changes.
    for service in &sandbox.plan.services {
        sandbox.seed(&format!("service {service}"), json!({}));
    }
    sandbox.seed(&bucket, elsewhere.clone());
    refused(&sandbox.infra(&["plan"]), &message);
    refused(&sandbox.infra(&["apply"]), &message);

    unseed(&sandbox, &bucket);
    sandbox.infra(&["apply"]).ok();
    unseed(&sandbox, &bucket);
    sandbox.seed(&bucket, elsewhere.clone());
    refused(&sandbox.infra(&["plan", "--detailed-exitcode"]), &message);
    refused(&sandbox.infra(&["apply"]), &message);
    refused(
        &sandbox.infra(&["destroy", "--yes", "--delete-data"]),
        &message,
    );
    assert_eq!(sandbox.resource(&bucket), elsewhere);
}

/// Applied with IAP members `[group, alice]`, then alice removed: `plan` shows the
/// revocation and exits 2, `apply` revokes it. After `auth.kind` changed away from IAP,
/// `destroy` still revokes every binding it granted.
#[test]
fn bindings_the_stack_no_longer_lists_are_revoked() {
    let scratch = TempDir::new("iap-members");
    let members = "members = [\"group:ml-team@acme.example\", \"serviceAccount:ci-trainer@acme-ml-prod.iam.gserviceaccount.com\"]";
    let both = changed_stack(
        &scratch,
        "team",
        &[(
            members,
            "members = [\"group:ml-team@acme.example\", \"user:alice@acme.example\"]",
        )],
        "",
    );
    let mut sandbox = Sandbox::new(&both);
    sandbox.infra(&["apply"]).ok();
    let iap = |sandbox: &Sandbox| -> Vec<String> {
        sandbox
            .bindings()
            .into_iter()
            .filter(|b| b[0].starts_with("iap-web "))
            .map(|b| b[2].clone())
            .collect()
    };
    assert_eq!(
        iap(&sandbox),
        ["group:ml-team@acme.example", "user:alice@acme.example"]
    );

    let without_alice = changed_stack(
        &scratch,
        "team",
        &[(members, "members = [\"group:ml-team@acme.example\"]")],
        "",
    );
    sandbox.rebuild(&without_alice);
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stdout.contains(
            "    revoke roles/iap.httpsResourceAccessor for user:alice@acme.example on iap-web:acme-ml-prod"
        ),
        "{}",
        run.stdout
    );
    sandbox.infra(&["apply"]).ok();
    assert_eq!(iap(&sandbox), ["group:ml-team@acme.example"]);
    assert_eq!(
        sandbox.infra(&["plan", "--detailed-exitcode"]).code,
        0,
        "a plan after apply is empty"
    );

    let basic = changed_stack(
        &scratch,
        "team",
        &[
            (members, ""),
            ("kind = \"iap\"", "kind = \"none\""),
            ("admins = [\"user:ana@acme.example\"]", ""),
            (
                "oauth_client_id = \"123456789012-mlflowteam.apps.googleusercontent.com\"",
                "",
            ),
        ],
        "",
    );
    sandbox.rebuild(&basic);
    sandbox
        .infra(&["destroy", "--yes", "--delete-data", "--delete-cluster"])
        .ok();
    assert_eq!(sandbox.bindings(), BTreeSet::new());
}

/// A service account and a bucket made by hand, with the bucket's `storage.objectUser` for
/// the account and the account's `workloadIdentityUser` already granted: `apply` adopts
/// both bindings, and `destroy` leaves them, while it revokes what it granted.
#[test]
fn bindings_that_existed_before_are_adopted_and_kept() {
    let sandbox = Sandbox::new(&stack("example"));
    let plan = sandbox.plan.clone();
    let member = format!("serviceAccount:{}", plan.server_email);
    let workload = plan.workload_identity_member.clone().unwrap();
    sandbox.seed(
        &format!("bucket {}", plan.bucket),
        json!({"name": plan.bucket, "location": "EUROPE-WEST3",
               "uniform_bucket_level_access": true, "public_access_prevention": "enforced"}),
    );
    sandbox.seed(
        &format!("service-account {}", plan.server_email),
        json!({"email": plan.server_email, "displayName": "made by hand"}),
    );
    let theirs = [
        [
            format!("bucket {}", plan.bucket),
            "roles/storage.objectUser".to_owned(),
            member.clone(),
            String::new(),
        ],
        [
            format!("service-account {}", plan.server_email),
            "roles/iam.workloadIdentityUser".to_owned(),
            workload.clone(),
            String::new(),
        ],
    ];
    seed_bindings(
        &sandbox,
        &theirs.each_ref().map(|b| b.each_ref().map(String::as_str)),
    );

    let run = sandbox.infra(&["apply"]).ok();
    for (role, who, on) in [
        (
            "roles/storage.objectUser",
            &member,
            format!("bucket:{}", plan.bucket),
        ),
        (
            "roles/iam.workloadIdentityUser",
            &workload,
            format!("service-account:{}", plan.server_email),
        ),
    ] {
        assert!(
            run.stdout.contains(&format!(
                "    adopted: IAM binding {role} for {who} on {on}"
            )),
            "{}",
            run.stdout
        );
    }
    assert!(sandbox.bindings().len() > theirs.len());

    sandbox.infra(&["destroy", "--yes"]).ok();
    assert_eq!(sandbox.bindings(), BTreeSet::from(theirs));
}
