//! Customer-managed encryption keys (`[encryption] kms_key`, `stacks/cmek.toml`): the
//! bucket's default key and the Cloud SQL instance's disk key, the service agents' access to
//! that key alone, the preflight's checks of the key, an instance's key that cannot change,
//! and a key that belongs to its owners.

use super::*;

/// A run that stopped before its first change, with MESSAGE on stderr.
fn refused(run: &Run, message: &str) {
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains(message), "{}", run.stderr);
    run.changed_nothing();
}

/// `stacks/cmek.toml` without its `[encryption]` table, written into SCRATCH.
fn without_key(scratch: &TempDir) -> PathBuf {
    let text = fs::read_to_string(stack("cmek")).unwrap();
    let (before, _) = text.split_once("[encryption]").unwrap();
    let path = scratch.path().join("cmek-without-key.toml");
    fs::write(&path, before).unwrap();
    path
}

fn kms_key_of(sandbox: &Sandbox) -> String {
    sandbox.plan.encryption.as_ref().unwrap().kms_key.clone()
}

/// The service agents of the stack's project, as IAM members: Cloud Storage's, Cloud SQL's.
fn agents(sandbox: &Sandbox) -> [String; 2] {
    let number = sandbox.project_number();
    ["gs-project-accounts", "gcp-sa-cloud-sql"]
        .map(|agent| format!("serviceAccount:service-{number}@{agent}.iam.gserviceaccount.com"))
}

/// Apply on an empty project (the key exists: its owners made it): Cloud SQL's service
/// agent is made and both agents may use the key, before the bucket and the instance are
/// created with it; a second apply and `plan` change nothing; `destroy --delete-data`
/// removes the bucket and the instance, and leaves the key, the agent and its bindings, with
/// the command its owners may run.
#[test]
fn the_bucket_and_the_instance_are_encrypted_with_the_key() {
    let sandbox = Sandbox::new(&stack("cmek"));
    let plan = &sandbox.plan;
    let key = kms_key_of(&sandbox);
    let key_before = sandbox.resource(&format!("kms-key {key}"));

    let run = sandbox.infra(&["apply"]).ok();
    assert_eq!(run.results(), sandbox.created(), "{}", run.stdout);
    let bucket = sandbox.resource(&format!("bucket {}", plan.names.bucket));
    assert_eq!(bucket["default_kms_key"], key.as_str());
    let instance = sandbox.resource(&format!("sql-instance {}", plan.database.instance));
    assert_eq!(
        instance["diskEncryptionConfiguration"]["kmsKeyName"],
        key.as_str()
    );
    let on_key: BTreeSet<[String; 4]> = sandbox
        .bindings()
        .into_iter()
        .filter(|[on, ..]| on.starts_with("kms-key "))
        .collect();
    let expected: BTreeSet<[String; 4]> = agents(&sandbox)
        .into_iter()
        .map(|member| {
            [
                format!("kms-key {key}"),
                "roles/cloudkms.cryptoKeyEncrypterDecrypter".to_owned(),
                member,
                String::new(),
            ]
        })
        .collect();
    assert_eq!(on_key, expected);
    // The agents' access comes first: the bucket and the instance are created with the key.
    let mutating = run.mutating();
    let first = |prefix: &str| {
        mutating
            .iter()
            .position(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {mutating:#?}"))
    };
    assert!(
        first("gcloud beta services identity create")
            < first("gcloud kms keys add-iam-policy-binding")
    );
    assert!(
        first("gcloud kms keys add-iam-policy-binding") < first("gcloud storage buckets create")
    );
    assert!(
        first("gcloud kms keys add-iam-policy-binding") < first("gcloud beta sql instances create")
    );

    let again = sandbox.infra(&["apply"]).ok();
    assert_eq!(again.results(), sandbox.every_step("exists"));
    again.changed_nothing();
    let planned = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(planned.code, 0, "{}", planned.stdout);

    let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(
        run.result("encryption-key"),
        "kept (the key and its bindings are its owners')"
    );
    assert!(
        run.stdout.contains(&format!(
            "its owners may remove it: 'gcloud kms keys remove-iam-policy-binding {key} --member={} --role=roles/cloudkms.cryptoKeyEncrypterDecrypter'",
            agents(&sandbox)[1]
        )),
        "{}",
        run.stdout
    );
    assert!(
        !sandbox
            .resources()
            .contains(&format!("bucket {}", plan.names.bucket))
    );
    assert_eq!(sandbox.resource(&format!("kms-key {key}")), key_before);
    assert_eq!(sandbox.bindings(), expected);
    assert!(
        run.calls
            .iter()
            .all(|call| !call.line().contains("kms keys remove"))
    );
}

/// The preflight reads the key: one that does not exist (or may not be seen), that does not
/// encrypt, or whose primary version is disabled stops `plan` and `apply` before any change.
#[test]
fn a_key_that_cannot_encrypt_stops_the_preflight() {
    let sandbox = Sandbox::new(&stack("cmek"));
    let key = kms_key_of(&sandbox);
    let at = format!("kms-key {key}");
    let mut state = sandbox.state();
    state["resources"].as_object_mut().unwrap().remove(&at);
    fs::write(
        sandbox.path("state/state.json"),
        serde_json::to_string(&state).unwrap(),
    )
    .unwrap();
    let missing = format!("the Cloud KMS key {key} (encryption.kms_key) was not found");
    refused(&sandbox.infra(&["plan"]), &missing);
    refused(&sandbox.infra(&["apply"]), &missing);

    let mut signing = kms_key(&key);
    signing["purpose"] = json!("ASYMMETRIC_SIGN");
    sandbox.seed(&at, signing);
    refused(&sandbox.infra(&["apply"]), "has purpose ASYMMETRIC_SIGN");

    let mut disabled = kms_key(&key);
    disabled["primary"]["state"] = json!("DISABLED");
    sandbox.seed(&at, disabled);
    refused(&sandbox.infra(&["apply"]), "is DISABLED, not ENABLED");
    assert!(sandbox.bindings().is_empty());
}

/// An instance keeps the key it was created with: a stack that names another key, or adds
/// a key to an instance made without one, is refused before any change, with the way to
/// a new instance.
#[test]
fn an_instance_with_another_key_is_refused_before_any_change() {
    let scratch = TempDir::new("cmek-rekey");
    let mut sandbox = Sandbox::new(&stack("cmek"));
    let key = kms_key_of(&sandbox);
    sandbox.infra(&["apply"]).ok();
    let before = sandbox.state();

    let other = key.replace("mlflow-data", "mlflow-data-2");
    sandbox.seed(&format!("kms-key {other}"), kms_key(&other));
    sandbox.rebuild(&changed_stack(&scratch, "cmek", &[(&key, &other)], ""));
    let message = format!(
        "Cloud SQL instance {} is encrypted with {key}, not with encryption.kms_key {other}; nothing was changed. An instance keeps the key it was created with",
        sandbox.plan.database.instance
    );
    refused(&sandbox.infra(&["plan"]), &message);
    refused(&sandbox.infra(&["apply"]), &message);
    assert_eq!(sandbox.state()["bindings"], before["bindings"]);

    // An instance made without a key.
    let mut sandbox = Sandbox::new(&without_key(&scratch));
    sandbox.infra(&["apply"]).ok();
    sandbox.rebuild(&stack("cmek"));
    sandbox.seed(&format!("kms-key {key}"), kms_key(&key));
    refused(
        &sandbox.infra(&["apply"]),
        "is encrypted with Google default encryption, not with encryption.kms_key",
    );
}

/// The bucket's default key converges on a bucket the stack owns: `plan` shows the update
/// and that it applies to new objects only, `apply` makes it; on a bucket it adopted, a
/// warning, and nothing changes.
#[test]
fn the_buckets_default_key_is_updated_for_new_objects() {
    let scratch = TempDir::new("cmek-bucket");
    let mut sandbox = Sandbox::new(&stack("cmek"));
    let plan = sandbox.plan.clone();
    let key = kms_key_of(&sandbox);
    let bucket = format!("bucket {}", plan.names.bucket);
    sandbox.rebuild(&without_key(&scratch));
    sandbox.infra(&["apply", "services", "bucket"]).ok();
    assert!(sandbox.resource(&bucket)["default_kms_key"].is_null());

    sandbox.rebuild(&stack("cmek"));
    let planned = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(planned.code, 2, "{}", planned.stdout);
    assert!(
        planned.stdout.contains(&format!(
            "update default_kms_key: (none) → {key} (for objects written from now on; those written before keep their key until rewritten)"
        )),
        "{}",
        planned.stdout
    );
    let run = sandbox
        .infra(&["apply", "services", "encryption-key", "bucket"])
        .ok();
    assert_eq!(run.result("bucket"), "updated", "{}", run.stdout);
    assert_eq!(sandbox.resource(&bucket)["default_kms_key"], key.as_str());

    // A bucket someone else made: reported, left as it is.
    let sandbox = Sandbox::new(&stack("cmek"));
    for service in &sandbox.plan.infra.services {
        sandbox.seed(&format!("service {service}"), json!({}));
    }
    let theirs = json!({"name": plan.names.bucket, "location": "EUROPE-WEST3",
        "project_number": sandbox.project_number(), "uniform_bucket_level_access": true,
        "public_access_prevention": "enforced", "labels": {"team": "research"}});
    sandbox.seed(&bucket, theirs.clone());
    let run = sandbox.infra(&["apply", "encryption-key", "bucket"]).ok();
    assert_eq!(run.result("bucket"), "adopted", "{}", run.stdout);
    assert!(
        run.stdout.contains("warning: the default key of gs://"),
        "{}",
        run.stdout
    );
    assert_eq!(sandbox.resource(&bucket), theirs);
}
