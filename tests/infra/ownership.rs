//! What `infra.sh` owns, and what it never touches: another stack's resources (two stack
//! files with one `name` in one project), IAM bindings it did not grant, a bucket of the
//! same name in another project; and the bindings it granted, recorded, revoked when the
//! stack no longer lists them and by `destroy`. What existed before is adopted and
//! survives `destroy`; a mark removed by hand is put back; the record vouches for what
//! takes no mark, as long as it stays.

use super::*;

/// A run that stopped before its first change, with MESSAGE on stderr.
#[track_caller]
fn refused(run: &Run, message: &str) {
    run.stopped_before_any_change();
    assert!(run.stderr.contains(message), "{}", run.stderr);
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
            &format!("bucket = \"{}\"", prod.names.bucket),
            "bucket = \"acme-ml-staging-mlflow\"",
        )],
        "",
    );
    sandbox.rebuild(&staging);
    assert_eq!(sandbox.plan.names.stack_name, prod.names.stack_name);
    assert_ne!(sandbox.plan.names.stack_id, prod.names.stack_id);
    let other = format!(
        "belongs to another stack: name {}, identity {}, bucket gs://{}",
        prod.names.stack_name, prod.names.stack_id, prod.names.bucket
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
    let bucket = format!("bucket {}", sandbox.plan.names.bucket);
    let elsewhere = json!({"name": sandbox.plan.names.bucket, "location": "EUROPE-WEST3",
        "project_number": "123456789012", "uniform_bucket_level_access": true,
        "public_access_prevention": "enforced"});
    let message = format!(
        "bucket gs://{} belongs to project number 123456789012, not to {}",
        sandbox.plan.names.bucket, sandbox.plan.names.project
    );
    // Its APIs on, as in most projects: the bucket can be read before anything changes.
    for service in &sandbox.plan.infra.services {
        sandbox.seed(&format!("service {service}"), json!({}));
    }
    sandbox.seed(&bucket, elsewhere.clone());
    refused(&sandbox.infra(&["plan"]), &message);
    refused(&sandbox.infra(&["apply"]), &message);

    sandbox.unseed(&bucket);
    sandbox.infra(&["apply"]).ok();
    sandbox.unseed(&bucket);
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
    let member = format!("serviceAccount:{}", plan.identity.server_email);
    let workload = plan.identity.workload_identity_member.clone().unwrap();
    sandbox.seed(
        &format!("bucket {}", plan.names.bucket),
        json!({"name": plan.names.bucket, "location": "EUROPE-WEST3",
               "uniform_bucket_level_access": true, "public_access_prevention": "enforced"}),
    );
    sandbox.seed(
        &format!("service-account {}", plan.identity.server_email),
        json!({"email": plan.identity.server_email, "displayName": "made by hand"}),
    );
    let theirs = [
        [
            format!("bucket {}", plan.names.bucket),
            "roles/storage.objectUser".to_owned(),
            member.clone(),
            String::new(),
        ],
        [
            format!("service-account {}", plan.identity.server_email),
            "roles/iam.workloadIdentityUser".to_owned(),
            workload.clone(),
            String::new(),
        ],
    ];
    sandbox.seed_bindings(&theirs.each_ref().map(|b| b.each_ref().map(String::as_str)));

    let run = sandbox.infra(&["apply"]).ok();
    for (role, who, on) in [
        (
            "roles/storage.objectUser",
            &member,
            format!("bucket:{}", plan.names.bucket),
        ),
        (
            "roles/iam.workloadIdentityUser",
            &workload,
            format!("service-account:{}", plan.identity.server_email),
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

/// Resources that existed before `apply` (no mark of this stack) are adopted: reported as
/// such by `plan` and `apply`, used, never changed, and never deleted, not even by
/// `destroy --yes --delete-data --delete-cluster`.
#[test]
fn pre_existing_resources_are_adopted_and_survive_destroy() {
    let sandbox = Sandbox::new(&stack("production"));
    let plan = &sandbox.plan;
    let cluster = sandbox.cluster_key();
    let bucket = format!("bucket {}", plan.names.bucket);
    let instance = format!("sql-instance {}", plan.database.instance);
    let account = format!("service-account {}", plan.identity.server_email);
    for service in &plan.infra.services {
        sandbox.seed(&format!("service {service}"), json!({}));
    }
    let mut existing = autopilot_cluster(&plan.names.project);
    existing["name"] = json!("ml-platform");
    sandbox.seed(&cluster, existing);
    sandbox.seed(
        &bucket,
        json!({"name": plan.names.bucket, "location": "EU", "uniform_bucket_level_access": false,
               "public_access_prevention": "inherited", "labels": {"team": "research"}}),
    );
    sandbox.seed(
        &instance,
        json!({"name": plan.database.instance, "state": "RUNNABLE", "databaseVersion": "POSTGRES_16",
               "settings": {"tier": "db-f1-micro", "availabilityType": "ZONAL",
                            "dataDiskSizeGb": "100", "deletionProtectionEnabled": true,
                            "databaseFlags": [{"name": "cloudsql.iam_authentication", "value": "on"}]}}),
    );
    sandbox.seed(
        &account,
        json!({"email": plan.identity.server_email, "displayName": "made by hand"}),
    );
    let before = sandbox.resources_at(&[&cluster, &bucket, &instance, &account]);

    let run = sandbox.infra(&["plan"]).ok();
    for (step, what) in [
        ("bucket", "gs://acme-ml-prod-mlflow-research"),
        ("sql-instance", "Cloud SQL instance research-mlflow-db"),
        ("service-account", "service account research-mlflow-server@"),
        ("cluster", "GKE cluster ml-platform"),
    ] {
        // The service-account step creates the builder's account beside the adopted one.
        let result = if step == "service-account" {
            "create"
        } else {
            "adopted"
        };
        assert!(
            run.results()
                .contains(&(step.to_owned(), result.to_owned())),
            "{step}\n{}",
            run.stdout
        );
        assert!(
            run.stdout.contains(&format!("    adopted: {what}")),
            "{}",
            run.stdout
        );
    }
    // An adopted bucket's settings are checked and reported, not changed.
    assert!(
        run.stdout
            .contains("    warning: uniform bucket-level access is off")
    );
    assert!(
        run.stdout
            .contains("    warning: public access prevention is not enforced")
    );
    assert!(
        run.stdout
            .contains("    warning: the bucket is in EU, not in europe-west4")
    );

    let run = sandbox.infra(&["apply"]).ok();
    assert!(
        run.results()
            .contains(&("bucket".to_owned(), "adopted".to_owned()))
    );
    let after = sandbox.resources_at(&[&cluster, &bucket, &instance, &account]);
    assert_eq!(after, before, "apply changed an adopted resource");
    assert!(
        run.mutating()
            .iter()
            .all(|call| !call.contains("sql instances patch")
                && !call.contains("buckets update")
                && !call.contains("clusters create")),
        "{:#?}",
        run.mutating()
    );

    let run = sandbox
        .infra(&["destroy", "--yes", "--delete-data", "--delete-cluster"])
        .ok();
    for key in [&cluster, &bucket, &instance, &account] {
        assert!(
            sandbox.resources().contains(key.as_str()),
            "{key} was deleted\n{}",
            run.stdout
        );
    }
    let results = run.results();
    for step in ["bucket", "sql-instance", "cluster"] {
        assert!(
            results.contains(&(step.to_owned(), "kept (not created by infra.sh)".to_owned())),
            "{step}: {results:?}"
        );
    }
    // The server's account stays (checked above); the builder's, created by the stack, goes.
    assert!(
        results.contains(&("service-account".to_owned(), "deleted".to_owned())),
        "{results:?}"
    );
    assert!(!sandbox.resources().contains(&format!(
        "service-account {}",
        plan.identity.builder_email.as_ref().unwrap()
    )));
    // What this stack created in them goes: its database, user and bindings.
    assert!(
        !sandbox
            .resources()
            .contains(&format!("sql-database {}/mlflow", plan.database.instance))
    );
    assert_eq!(sandbox.bindings(), BTreeSet::new());
}

/// The mark removed by hand from resources `apply` created (the record says so): `plan`
/// shows it as an update, `apply` puts it back, and they stay the stack's for `destroy`.
#[test]
fn a_mark_removed_by_hand_is_put_back() {
    let sandbox = Sandbox::new(&stack("production"));
    sandbox.infra(&["apply"]).ok();
    let plan = &sandbox.plan;
    let (bucket, instance, cluster) = (
        format!("bucket {}", plan.names.bucket),
        format!("sql-instance {}", plan.database.instance),
        sandbox.cluster_key(),
    );
    unmark(&sandbox, &[&bucket, &instance, &cluster]);

    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{run:#?}");
    let labels = format!(
        "managed-by=mlflow-stack,mlflow-stack=research-mlflow,mlflow-stack-id={}",
        plan.names.stack_id
    );
    let update = format!("    update labels: team=research → {labels}");
    for step in ["bucket", "sql-instance", "cluster"] {
        let (_, calls) = run
            .calls_by_step()
            .into_iter()
            .find(|(s, _)| s == step)
            .unwrap();
        assert!(!calls.is_empty());
        assert!(
            run.results().contains(&(step.into(), "update".into())),
            "{step}\n{}",
            run.stdout
        );
    }
    assert_eq!(run.stdout.matches(&update).count(), 3, "{}", run.stdout);
    let run = sandbox.infra(&["apply"]).ok();
    assert_eq!(
        run.mutating(),
        [
            format!(
                "gcloud storage buckets update gs://acme-ml-prod-mlflow-research \
                 --update-labels={labels}"
            ),
            format!(
                "gcloud beta sql instances patch research-mlflow-db --update-labels={labels} --quiet"
            ),
            format!(
                "gcloud container clusters update ml-platform --location=europe-west4 \
                 --update-labels={labels}"
            ),
        ]
    );
    assert_eq!(sandbox.resource(&bucket)["labels"]["team"], "research");
    assert_eq!(sandbox.infra(&["plan", "--detailed-exitcode"]).code, 0);
}

/// Removes this stack's mark by hand from the bucket, instance or cluster KEYS: their labels
/// become `team=research`.
pub(super) fn unmark(sandbox: &Sandbox, keys: &[&str]) {
    let mut state = sandbox.state();
    for key in keys {
        let labels = match key.split_once(' ').unwrap().0 {
            "bucket" => "/labels",
            "sql-instance" => "/settings/userLabels",
            "cluster" => "/resourceLabels",
            kind => unreachable!("{kind} takes no labels here"),
        };
        let found = state["resources"][*key].pointer_mut(labels).unwrap();
        *found = json!({"team": "research"});
    }
    sandbox.save_state(&state);
}

/// The record vouches for what takes no mark and for resources whose mark was removed by
/// hand. `destroy` removes it last, and only once nothing it names remains: a destroy that
/// keeps the cluster (no `--delete-cluster`) or the instance (it holds other databases)
/// keeps the record for them, and the next destroy still knows they are the stack's.
#[test]
fn the_record_outlives_what_it_vouches_for() {
    let sandbox = Sandbox::new(&stack("production"));
    sandbox.infra(&["apply"]).ok();
    let plan = &sandbox.plan;
    let record = format!("secret {}", plan.names.record_secret);
    let (bucket, instance, cluster) = (
        format!("bucket {}", plan.names.bucket),
        format!("sql-instance {}", plan.database.instance),
        sandbox.cluster_key(),
    );
    unmark(&sandbox, &[&bucket, &instance, &cluster]);
    let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(run.result("bucket"), "deleted", "{}", run.stdout);
    assert_eq!(run.result("sql-instance"), "deleted", "{}", run.stdout);
    assert_eq!(run.result("cluster"), "kept (--delete-cluster removes it)");
    assert_eq!(run.result("record"), "kept (it names what stays: cluster)");
    assert_eq!(run.results().last().unwrap().0, "record");
    let mut kept = sandbox.always_kept();
    kept.extend(sandbox.owned_cluster());
    assert_eq!(sandbox.resources(), kept, "{}", run.stdout);
    assert!(kept.contains(&record));
    // It names only what stays: a bucket made later under the same name by someone else
    // is not the stack's.
    assert_eq!(
        record_entries(&sandbox),
        ["cluster", "managed-by", "mlflow-stack", "mlflow-stack-id"]
    );
    sandbox.seed(&bucket, json!({"labels": {"team": "research"}}));

    let run = sandbox
        .infra(&["destroy", "--yes", "--delete-data", "--delete-cluster"])
        .ok();
    assert_eq!(run.result("cluster"), "deleted", "{}", run.stdout);
    assert_eq!(run.result("bucket"), "kept (not created by infra.sh)");
    assert_eq!(run.result("record"), "deleted", "{}", run.stdout);
    let mut kept = sandbox.always_kept();
    kept.insert(bucket);
    assert_eq!(sandbox.resources(), kept, "{}", run.stdout);

    // An instance kept for the databases of others, whose mark was removed by hand.
    let sandbox = Sandbox::new(&repo().join("tests/fixtures/good/custom-database.toml"));
    sandbox.infra(&["apply"]).ok();
    let instance = format!("sql-instance {}", sandbox.plan.database.instance);
    let record = format!("secret {}", sandbox.plan.names.record_secret);
    unmark(&sandbox, &[&instance]);
    sandbox.seed("sql-database shared-postgres/billing", json!({}));
    let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(
        run.result("sql-instance"),
        "kept (it holds other databases: billing)"
    );
    assert_eq!(
        run.result("record"),
        "kept (it names what stays: sql-instance)"
    );
    assert_eq!(
        record_entries(&sandbox),
        [
            "managed-by",
            "mlflow-stack",
            "mlflow-stack-id",
            "sql-instance"
        ]
    );
    sandbox.unseed("sql-database shared-postgres/billing");
    let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(run.result("sql-instance"), "deleted", "{}", run.stdout);
    assert_eq!(run.result("record"), "deleted", "{}", run.stdout);
    assert!(!sandbox.resources().contains(&instance));
    assert!(!sandbox.resources().contains(&record));
}
