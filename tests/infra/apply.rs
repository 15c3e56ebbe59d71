//! `apply`: on an empty project every step creates what it owns, in order; run again it
//! creates nothing; `apply STEP` runs only that step.

use super::*;

/// The snapshots show every call of an `apply` on an empty project, in order, between the
/// script's `[i/n] step: created` lines.
#[test]
fn apply_on_an_empty_project_creates_everything_in_order() {
    for path in stack_files("stacks") {
        let sandbox = Sandbox::new(&path);
        let plan = &sandbox.plan;
        let run = sandbox.infra(&["apply"]).ok();
        assert_eq!(run.results(), sandbox.created(), "{}", run.stdout);
        assert_eq!(sandbox.resources(), sandbox.everything());
        assert_eq!(sandbox.bindings(), sandbox.grants());

        let mark = json!({"managed-by": "mlflow-stack", "mlflow-stack": plan.names.stack_name,
                          "mlflow-stack-id": plan.names.stack_id});
        let bucket = sandbox.resource(&format!("bucket {}", plan.names.bucket));
        assert_eq!(bucket["uniform_bucket_level_access"], true);
        assert_eq!(bucket["public_access_prevention"], "enforced");
        assert_eq!(bucket["location"], plan.names.region.to_uppercase());
        assert_eq!(bucket["labels"], mark);
        let instance = sandbox.resource(&format!("sql-instance {}", plan.database.instance));
        assert_eq!(instance["databaseVersion"], plan.database.database_version);
        let settings = &instance["settings"];
        assert_eq!(settings["deletionProtectionEnabled"], true);
        assert_eq!(settings["userLabels"], mark);
        assert_eq!(settings["tier"], plan.database.tier.as_str());
        let iam_flag = settings["databaseFlags"]
            == json!([{"name": "cloudsql.iam_authentication", "value": "on"}]);
        assert_eq!(iam_flag, plan.database.iam_auth);
        let account = sandbox.resource(&format!("service-account {}", plan.identity.server_email));
        assert_eq!(
            account["description"],
            format!(
                "managed-by=mlflow-stack mlflow-stack={} mlflow-stack-id={}",
                plan.names.stack_name, plan.names.stack_id
            )
        );
        let record = &sandbox.resource(&format!("secret {}", plan.names.record_secret))["labels"];
        assert_eq!(record["managed-by"], "mlflow-stack");
        assert_eq!(record["mlflow-stack"], plan.names.stack_name.as_str());
        assert_eq!(record["mlflow-stack-id"], plan.names.stack_id.as_str());
        assert_eq!(record["sql-database"], "true");
        if plan.database.iam_auth {
            assert_eq!(record["iam-user"], "true");
        } else {
            assert_eq!(record["password-user"], plan.database.db_user.as_str());
        }
        assert_eq!(record["bucket"], "true");
        assert_eq!(record["sql-instance"], "true");
        assert_eq!(
            record["cluster"].as_str(),
            plan.cluster.create_cluster.then_some("true")
        );
        assert_eq!(
            record["mlflow-version"],
            plan.server.mlflow_version_label.as_str()
        );
        if plan.image.build_image {
            assert_eq!(record["image-tag"], plan.image.image_tag_label.as_str());
            assert_eq!(record["image-digest"].as_str().unwrap().len(), 16);
        }
        let user = sandbox.resource(&format!(
            "sql-user {}/{}",
            plan.database.instance, plan.database.db_user
        ));
        if plan.database.iam_auth {
            assert_eq!(user["type"], "CLOUD_IAM_SERVICE_ACCOUNT");
            assert_eq!(user["databaseRoles"], json!(["cloudsqlsuperuser"]));
        } else {
            assert_eq!(user["type"], "BUILT_IN");
            let secret = sandbox.resource(&format!(
                "secret {}",
                plan.database.password_secret.as_ref().unwrap()
            ));
            let password = secret["data"].as_str().unwrap();
            assert_eq!(
                password.len(),
                48,
                "openssl rand -hex 24, without its newline"
            );
            assert_eq!(
                user["password"], password,
                "the user gets the password kept in Secret Manager"
            );
            assert_eq!(secret["labels"], mark);
        }
        for secret in &plan.names.k8s_secrets {
            let data =
                &sandbox.resource(&format!("k8s Secret/{}/{secret}", plan.names.namespace))["data"];
            let expected = if Some(secret) == plan.names.db_secret.as_ref() {
                "password"
            } else if Some(secret) == plan.names.key_secret.as_ref() {
                "key.json"
            } else {
                ".dockerconfigjson"
            };
            assert_eq!(data, &json!([expected]), "{secret}");
        }
        if let Some(basic) = &plan.auth.basic {
            // MLflow refuses an admin password shorter than 12 characters.
            for secret in [&basic.admin_password_secret, &basic.flask_key_secret] {
                let value = sandbox.resource(&format!("secret {secret}"))["data"].clone();
                assert_eq!(value.as_str().unwrap().len(), 48, "{secret}");
                assert!(
                    run.calls.iter().all(|call| call
                        .argv
                        .iter()
                        .all(|arg| !arg.contains(value.as_str().unwrap()))),
                    "{secret} never reaches a command line"
                );
            }
            for (secret, key) in [
                (&basic.admin_password_k8s_secret, basic.admin_password_key),
                (&basic.flask_key_k8s_secret, basic.flask_key_key),
            ] {
                let data = &sandbox
                    .resource(&format!("k8s Secret/{}/{secret}", plan.names.namespace))["data"];
                assert_eq!(data, &json!([key]), "{secret}");
            }
        }
        for file in sandbox.key_files() {
            assert!(file.is_file(), "{}", file.display());
            let gitignore = file.parent().unwrap().join(".gitignore");
            assert_eq!(fs::read_to_string(gitignore).unwrap(), "*\n");
        }
        assert!(run.calls.iter().all(|call| call.tool != "gsutil"));

        let name = format!("infra@{}", path.file_stem().unwrap().to_string_lossy());
        let transcript = sandbox.normalized(&run.transcript);
        snapshot_settings().bind(|| insta::assert_snapshot!(name, transcript));
    }
}

/// Every step of a second `apply` reports `exists` and makes no mutating call.
#[test]
fn a_second_apply_creates_nothing() {
    for path in stack_files("stacks") {
        let sandbox = Sandbox::new(&path);
        sandbox.infra(&["apply"]).ok();
        let (resources, bindings) = (sandbox.resources(), sandbox.bindings());
        let run = sandbox.infra(&["apply"]).ok();
        assert_eq!(
            run.results(),
            sandbox.every_step("exists"),
            "{}",
            run.stdout
        );
        run.changed_nothing();
        assert_eq!(sandbox.resources(), resources);
        assert_eq!(sandbox.bindings(), bindings);
    }
}

/// Apply, apply again, destroy, destroy again, destroy with the data, for the fixtures
/// and a Container Registry stack (`stacks/` have tests of their own below): each run
/// succeeds, and a repeated run changes nothing.
#[test]
fn every_fixture_applies_and_destroys_idempotently() {
    let scratch = TempDir::new("infra-every");
    let mut stacks = stack_files("tests/fixtures/good");
    stacks.push(gcr_stack(&scratch));
    for path in stacks {
        let sandbox = Sandbox::new(&path);
        let context = path.display();
        let run = sandbox.infra(&["apply"]).ok();
        assert_eq!(
            run.results(),
            sandbox.created(),
            "{context}\n{}",
            run.stdout
        );
        assert_eq!(sandbox.resources(), sandbox.everything(), "{context}");
        assert_eq!(sandbox.bindings(), sandbox.grants(), "{context}");
        let run = sandbox.infra(&["apply"]).ok();
        assert_eq!(run.results(), sandbox.every_step("exists"), "{context}");
        assert_eq!(run.mutating(), Vec::<String>::new(), "{context}");

        let facts = ReadmeFacts::new(&sandbox.plan);
        let run = sandbox.infra(&["destroy", "--yes"]).ok();
        assert_eq!(kept_steps(&run), facts.destroy_keeps, "{context}");
        let mut kept = sandbox.always_kept();
        kept.extend(sandbox.data());
        kept.extend(sandbox.owned_cluster());
        assert_eq!(sandbox.resources(), kept, "{context}");
        let run = sandbox.infra(&["destroy", "--yes"]).ok();
        assert_eq!(run.mutating(), Vec::<String>::new(), "{context}");
        assert_eq!(run.stdout.lines().last(), Some("Nothing to delete."));

        let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
        assert_eq!(
            kept_steps(&run),
            facts.destroy_keeps_with_delete_data,
            "{context}"
        );
        let mut kept = sandbox.always_kept();
        kept.extend(sandbox.owned_cluster());
        assert_eq!(sandbox.resources(), kept, "{context}");
        assert_eq!(sandbox.bindings(), sandbox.kept_grants(), "{context}");
        assert!(sandbox.key_files().iter().all(|file| !file.exists()));
    }
}

/// `CLOUDSDK_CORE_PROJECT` names another project in every run of these tests, and every
/// run checks each gcloud call (`Sandbox::check_targets`); here once more, explicitly.
#[test]
fn every_gcloud_call_targets_the_stack_project() {
    let sandbox = Sandbox::new(&stack("production"));
    sandbox.infra(&["apply"]).ok();
    sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    let calls = sandbox.calls();
    let projects: BTreeSet<Option<&str>> = calls
        .iter()
        .filter(|call| call.tool == "gcloud")
        .map(|call| call.project.as_deref())
        .collect();
    assert_eq!(projects, BTreeSet::from([Some("acme-ml-prod")]));
    assert!(calls.len() > 50, "{}", calls.len());
}

#[test]
fn apply_step_runs_only_that_step() {
    let sandbox = Sandbox::new(&stack("example"));
    let run = sandbox.infra(&["apply", "services"]).ok();
    assert_eq!(run.results(), [("services".into(), "created".into())]);
    assert!(
        run.mutating()
            .iter()
            .all(|call| call.starts_with("gcloud services enable "))
    );

    let run = sandbox.infra(&["apply", "bucket"]).ok();
    assert!(
        run.stdout.starts_with("[1/1] bucket: created ("),
        "{}",
        run.stdout
    );
    let id = &sandbox.plan.names.stack_id;
    assert_eq!(
        run.mutating(),
        [
            // The record that this stack creates the bucket, created with its first entry,
            // before the bucket: `buckets create` takes no labels.
            format!(
                "gcloud secrets create mlflow-infra-record --replication-policy=automatic \
                 --labels=managed-by=mlflow-stack,mlflow-stack=mlflow,mlflow-stack-id={id} \
                 --set-annotations=stack-bucket=acme-ml-prod-mlflow"
            ),
            "gcloud secrets update mlflow-infra-record --update-labels=bucket=true".to_owned(),
            "gcloud storage buckets create gs://acme-ml-prod-mlflow --location=europe-west3 \
             --uniform-bucket-level-access --public-access-prevention"
                .to_owned(),
            format!(
                "gcloud storage buckets update gs://acme-ml-prod-mlflow \
                 --update-labels=managed-by=mlflow-stack,mlflow-stack=mlflow,mlflow-stack-id={id}"
            ),
        ]
    );

    // Several steps run in the order of the script, whatever the order given.
    let run = sandbox.infra(&["apply", "database", "sql-instance"]).ok();
    assert_eq!(
        run.results(),
        [
            ("sql-instance".into(), "created".into()),
            ("database".into(), "created".into())
        ]
    );

    let run = sandbox.infra(&["apply", "buckets"]);
    run.stopped_before_any_step();
    assert_eq!(
        run.stderr,
        format!(
            "infra.sh: unknown step 'buckets'; the steps are: {}\n",
            sandbox
                .plan
                .infra
                .steps
                .iter()
                .map(|step| step.name())
                .collect::<Vec<_>>()
                .join(" ")
        )
    );
    assert!(run.calls.is_empty());
}
