//! The Cloud SQL side: the instance's changes, the password and its flags file, the
//! logins of `database.auth` and their moves, the backup before a schema migration.

use super::*;

/// A failed Secret Manager read stops the script before `sql users create`, which would
/// otherwise get `--password=` (empty).
#[test]
fn a_password_that_cannot_be_read_creates_no_user() {
    let sandbox = Sandbox::new(&stack("example"));
    let failed = sandbox.infra_with(&["apply"], &[("FAKE_FAIL", "secrets versions access")]);
    failed.failed_as_injected();
    assert!(
        failed
            .calls
            .iter()
            .all(|call| !call.starts_with("gcloud sql users create")),
        "{:#?}",
        failed.calls
    );
    assert_eq!(failed.results().last().unwrap().0, "db-password");
}

/// An adopted password with a quote, a backslash and a line that reads as a flag reaches
/// gcloud's flags file as one string: the user gets exactly that password, and the flags
/// of the command stay what infra.sh gave.
#[test]
fn no_password_changes_the_flags_file() {
    let sandbox = Sandbox::new(&stack("example"));
    let plan = &sandbox.plan;
    let password = "p\"a\\b\n--database-roles: \"nope\n";
    sandbox.seed(
        &format!(
            "secret {}",
            plan.database.password_secret.as_deref().unwrap()
        ),
        json!({"replication": "automatic", "data": password}),
    );
    sandbox.infra(&["apply"]).ok();
    let user = sandbox.resource(&format!(
        "sql-user {}/{}",
        plan.database.instance, plan.database.db_user
    ));
    assert_eq!(user["password"], password);
    assert_eq!(user["databaseRoles"], json!(["cloudsqlsuperuser"]));
}

/// A password with a control character YAML does not take is refused before the user is
/// created.
#[test]
fn a_password_with_a_control_character_is_refused() {
    let sandbox = Sandbox::new(&stack("example"));
    let plan = &sandbox.plan;
    let secret = plan.database.password_secret.as_deref().unwrap();
    sandbox.seed(
        &format!("secret {secret}"),
        json!({"replication": "automatic", "data": "a\tb"}),
    );
    let run = sandbox.infra(&["apply"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!(
            "infra.sh: the password in Secret Manager {secret} holds a control character (a tab, \
             a carriage return, ...), which gcloud's flags file cannot carry: give the secret a new \
             version without one\n"
        )
    );
    assert!(sandbox.resources_of(&["sql-user"]).is_empty());
}

/// `database.auth = "iam"` on an adopted instance without `cloudsql.iam_authentication`:
/// the preflight says so before anything changes (infra.sh does not change an instance it
/// adopted, and `sql users create --type=cloud_iam_service_account` would fail halfway).
#[test]
fn iam_auth_on_an_adopted_instance_without_the_flag_is_refused() {
    let sandbox = Sandbox::new(&stack("production"));
    let plan = &sandbox.plan;
    for service in &plan.infra.services {
        sandbox.seed(&format!("service {service}"), json!({}));
    }
    sandbox.seed(
        &format!("sql-instance {}", plan.database.instance),
        json!({"name": plan.database.instance, "state": "RUNNABLE", "databaseVersion": "POSTGRES_16",
               "settings": {"tier": "db-custom-2-7680", "availabilityType": "REGIONAL",
                            "dataDiskSizeGb": "100", "deletionProtectionEnabled": true,
                            "databaseFlags": [{"name": "max_connections", "value": "200"}]}}),
    );
    for args in [&["plan", "--detailed-exitcode"][..], &["apply"]] {
        let run = sandbox.infra(args);
        run.stopped_before_any_step();
        assert_eq!(
            run.stderr,
            format!(
                "infra.sh: database.auth = \"iam\" needs the flag cloudsql.iam_authentication=on on \
                 Cloud SQL instance {0}, which infra.sh did not create and does not change: ask its \
                 owners to turn it on (gcloud sql instances patch {0} \
                 --database-flags=cloudsql.iam_authentication=on plus every flag it has already: \
                 the list replaces them), or set database.auth = \"password\"\n",
                plan.database.instance
            )
        );
    }
}

/// `database.instance` may name a shared instance: `--delete-data` removes this stack's
/// database and user from it, not the other databases with the instance.
#[test]
fn delete_data_keeps_an_instance_that_holds_other_databases() {
    let sandbox = Sandbox::new(&repo().join("tests/fixtures/good/custom-database.toml"));
    sandbox.infra(&["apply"]).ok();
    sandbox.seed("sql-database shared-postgres/billing", json!({}));
    let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(
        run.result("sql-instance"),
        "kept (it holds other databases: billing)"
    );
    let resources = sandbox.resources();
    assert!(resources.contains("sql-instance shared-postgres"));
    assert!(!resources.contains("sql-database shared-postgres/tracking_db"));
    assert!(!resources.contains("sql-user shared-postgres/tracking_app"));
}

/// Changing the database's tier, availability, disk size and authentication in the stack:
/// `plan` shows exactly those updates (saying which restart the instance), `apply` makes
/// them, and the plan after it is empty.
#[test]
fn database_changes_are_planned_then_applied() {
    let scratch = TempDir::new("infra-changes");
    let mut sandbox = Sandbox::new(&stack("example"));
    sandbox.infra(&["apply"]).ok();
    let changed = changed_stack(
        &scratch,
        "example",
        &[],
        "[database]\ntier = \"db-custom-2-7680\"\nhigh_availability = true\nstorage_gb = 20\nauth = \"iam\"",
    );
    sandbox.rebuild(&changed);
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{run:#?}");
    let updates: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("    update "))
        .collect();
    assert_eq!(
        updates,
        [
            "    update tier: db-custom-1-3840 → db-custom-2-7680 (restarts the instance)",
            "    update availability: ZONAL → REGIONAL (restarts the instance)",
            "    update storage_gb: 10 → 20",
            "    update cloudsql.iam_authentication: (none) → on",
        ]
    );
    assert!(
        run.results()
            .contains(&("sql-instance".into(), "update".into()))
    );
    run.changed_nothing();

    let run = sandbox.infra(&["apply"]).ok();
    assert!(
        run.results()
            .contains(&("sql-instance".into(), "updated".into())),
        "{}",
        run.stdout
    );
    let patches: Vec<String> = run
        .mutating()
        .into_iter()
        .filter(|call| call.contains("sql instances patch"))
        .collect();
    assert_eq!(
        patches,
        [
            "gcloud sql instances patch mlflow-db --tier=db-custom-2-7680 \
          --availability-type=REGIONAL --storage-size=20 \
          --database-flags=cloudsql.iam_authentication=on --quiet"
        ]
    );
    let settings = &sandbox.resource("sql-instance mlflow-db")["settings"];
    assert_eq!(settings["tier"], "db-custom-2-7680");
    assert_eq!(settings["availabilityType"], "REGIONAL");
    assert_eq!(settings["dataDiskSizeGb"], "20");
    // The IAM user now exists beside the password user, which only destroy removes.
    let users: BTreeSet<String> = sandbox.resources_of(&["sql-user"]).into_iter().collect();
    assert_eq!(
        users,
        BTreeSet::from([
            "sql-user mlflow-db/mlflow".to_owned(),
            format!("sql-user mlflow-db/{}", sandbox.plan.database.db_user),
        ])
    );
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

/// A smaller disk is refused before anything changes, in `plan` and in `apply`.
#[test]
fn a_shrink_fails_before_any_mutation() {
    let scratch = TempDir::new("infra-shrink");
    let mut sandbox = Sandbox::new(&stack("production"));
    sandbox.infra(&["apply"]).ok();
    let base = fs::read_to_string(stack("production")).unwrap();
    let smaller = scratch.path().join("production.toml");
    fs::write(&smaller, base.replace("storage_gb = 50", "storage_gb = 20")).unwrap();
    sandbox.rebuild(&smaller);
    let (resources, bindings) = (sandbox.resources(), sandbox.bindings());
    for args in [&["plan"][..], &["apply"]] {
        let run = sandbox.infra(args);
        run.stopped_before_any_step();
        assert_eq!(
            run.stderr,
            "infra.sh: database.storage_gb = 20 is smaller than the 50 GB of instance \
             research-mlflow-db: Cloud SQL disks only grow; set storage_gb = 50 or more\n"
        );
    }
    assert_eq!(sandbox.resources(), resources);
    assert_eq!(sandbox.bindings(), bindings);
}

/// A new `server.mlflow_version` takes an on-demand backup of the instance before the new
/// version's pods migrate the schema; the version is recorded, so the next run takes none.
#[test]
fn a_version_bump_takes_a_backup_first() {
    let scratch = TempDir::new("infra-bump");
    let mut sandbox = Sandbox::new(&stack("example"));
    sandbox.infra(&["apply"]).ok();
    let record = sandbox.resource(&format!("secret {}", sandbox.plan.names.record_secret));
    assert_eq!(record["labels"]["mlflow-version"], "3_17_2");
    assert!(sandbox.resources_of(&["sql-backup"]).is_empty());

    let bumped = changed_stack(
        &scratch,
        "example",
        &[("tag = \"1.0.0\"", "tag = \"1.0.1\"")],
        "[server]\nmlflow_version = \"3.17.3\"",
    );
    sandbox.rebuild(&bumped);
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout.contains(
            "[9/15] backup: update\n    update mlflow-version: 3_17_2 → 3_17_3 (an on-demand backup of mlflow-db first)\n"
        ),
        "{}",
        run.stdout
    );
    let run = sandbox.infra(&["apply"]).ok();
    // The backup, before the new image is built.
    let mutating = run.mutating();
    assert_eq!(
        mutating[..2],
        [
            "gcloud sql backups create --instance=mlflow-db --description=before MLflow 3.17.3 migrates the schema",
            "gcloud secrets update mlflow-infra-record --update-labels=mlflow-version=3_17_3",
        ]
    );
    assert!(
        mutating[2..]
            .iter()
            .any(|call| call.starts_with("gcloud builds submit")),
        "{mutating:#?}"
    );
    let backup = sandbox.resource("sql-backup mlflow-db/1");
    assert_eq!(backup["type"], "ON_DEMAND");
    let again = sandbox.infra(&["apply"]).ok();
    again.changed_nothing();
}

/// A lower `server.mlflow_version` than the schema was migrated for is refused in `plan`
/// and `apply`, before anything changes, with the way back: the backup taken before the
/// upgrade.
#[test]
fn an_older_mlflow_than_the_schema_is_refused() {
    let scratch = TempDir::new("infra-downgrade");
    let newer = changed_stack(
        &scratch,
        "example",
        &[("tag = \"1.0.0\"", "tag = \"1.0.1\"")],
        "[server]\nmlflow_version = \"3.17.3\"",
    );
    let mut sandbox = Sandbox::new(&newer);
    sandbox.infra(&["apply"]).ok();
    sandbox.rebuild(&stack("example"));
    for args in [&["plan", "--detailed-exitcode"][..], &["apply"]] {
        let run = sandbox.infra(args);
        run.stopped_before_any_change();
        assert_eq!(
            run.stderr,
            "infra.sh: server.mlflow_version = 3.17.2 is older than 3.17.3, which the schema of \
             database mlflow was migrated for: MLflow has no downgrade, and an older server \
             refuses a newer schema. To go back, restore onto mlflow-db the on-demand backup taken \
             before that upgrade (in its list of backups, described \"before MLflow 3.17.3 \
             migrates the schema\"; a restore replaces every database of the instance) and record \
             the version it holds (gcloud secrets update mlflow-infra-record \
             --update-labels=mlflow-version=3_17_2), or keep mlflow_version = \"3.17.3\" or later\n"
        );
    }
}

/// Whether LOGIN can use the tables of DATABASE in the fake: it owns them, or it is a
/// member of their owner (what `--database-roles` makes it; the e2e suite's `login-switch`
/// scenario proves on a real PostgreSQL that a member reads, writes and migrates them).
pub(super) fn can_use_tables(sandbox: &Sandbox, login: &str) -> bool {
    let plan = &sandbox.plan;
    let database = sandbox.resource(&format!(
        "sql-database {}/{}",
        plan.database.instance, plan.database.database
    ));
    let owner = database["tables_owned_by"].as_str().unwrap();
    let user = sandbox.resource(&format!("sql-user {}/{login}", plan.database.instance));
    owner == login
        || user["databaseRoles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|role| role == owner)
}

pub(super) fn updates(run: &Run) -> Vec<&str> {
    run.stdout
        .lines()
        .filter(|line| line.starts_with("    update ") || line.starts_with("    member of "))
        .collect()
}

/// `database.auth` from password to iam and back: the instance flag, the IAM user (a member
/// of the password user, who owns MLflow's tables), the instanceUser binding granted and,
/// back on password, revoked; the password user and its secret stay until `destroy`.
#[test]
fn password_to_iam_and_back() {
    let scratch = TempDir::new("infra-login");
    let mut sandbox = Sandbox::new(&stack("example"));
    sandbox.infra(&["apply"]).ok();
    let iam_user = sandbox.plan.database.iam_db_user.clone();
    let server = format!("serviceAccount:{}", sandbox.plan.identity.server_email);
    let instance_user = [
        "project acme-ml-prod".to_owned(),
        "roles/cloudsql.instanceUser".to_owned(),
        server,
        sandbox.plan.database.sql_condition_title.clone(),
    ];

    let iam = changed_stack(&scratch, "example", &[], "[database]\nauth = \"iam\"");
    sandbox.rebuild(&iam);
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(
        updates(&run),
        [
            "    update cloudsql.iam_authentication: (none) → on",
            "    member of mlflow, the login of database.auth = \"password\", which owns the tables",
        ]
    );
    assert!(run.stdout.contains(&format!(
        "gcloud sql users create {iam_user} --instance=mlflow-db --type=cloud_iam_service_account \
         --database-roles=cloudsqlsuperuser\\,mlflow\n"
    )));
    run.changed_nothing();
    sandbox.infra(&["apply"]).ok();
    assert!(can_use_tables(&sandbox, &iam_user));
    assert!(sandbox.bindings().contains(&instance_user));
    // The password login and its secret stay.
    sandbox.resource("sql-user mlflow-db/mlflow");
    sandbox.resource("secret mlflow-db-password");
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}", run.stdout);

    // Back: the password user exists and owns the tables; the binding goes.
    sandbox.rebuild(&stack("example"));
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(updates(&run), Vec::<&str>::new());
    assert!(
        run.stdout.contains(&format!(
            "    revoke roles/cloudsql.instanceUser for serviceAccount:{} on project:acme-ml-prod: \
             the stack no longer grants it\n",
            sandbox.plan.identity.server_email
        )),
        "{}",
        run.stdout
    );
    assert!(run.results().contains(&("iam".into(), "update".into())));
    assert!(run.results().contains(&("db-user".into(), "ok".into())));
    let run = sandbox.infra(&["apply"]).ok();
    let mutating = run.mutating();
    assert_eq!(
        mutating[0],
        format!(
            "gcloud projects remove-iam-policy-binding acme-ml-prod --member=serviceAccount:{} \
             --role=roles/cloudsql.instanceUser --condition={} --quiet",
            sandbox.plan.identity.server_email, sandbox.plan.database.sql_condition
        )
    );
    // The record forgets the binding it revoked.
    assert_eq!(mutating.len(), 2, "{mutating:#?}");
    assert!(
        mutating[1]
            .starts_with("gcloud secrets update mlflow-infra-record --remove-annotations=binding-"),
        "{mutating:#?}"
    );
    assert!(!sandbox.bindings().contains(&instance_user));
    assert!(can_use_tables(&sandbox, "mlflow"));
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}", run.stdout);

    // Only destroy removes both logins, and the password.
    let run = sandbox.infra(&["destroy", "--yes"]).ok();
    assert!(
        sandbox
            .resources()
            .contains(&format!("sql-user mlflow-db/{iam_user}"))
    );
    assert!(
        run.results()
            .contains(&("db-user".into(), "kept (--delete-data removes it)".into()))
    );
    sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(
        sandbox.resources_of(&["sql-user", "secret"]),
        Vec::<String>::new()
    );
}

/// A stack that began on iam and moves to password: the new password user is a member of
/// the IAM user, who owns the tables; `destroy --delete-data` removes both and the password.
#[test]
fn iam_to_password() {
    let scratch = TempDir::new("infra-login-iam");
    let iam = changed_stack(&scratch, "example", &[], "[database]\nauth = \"iam\"");
    let mut sandbox = Sandbox::new(&iam);
    sandbox.infra(&["apply"]).ok();
    let iam_user = sandbox.plan.database.iam_db_user.clone();
    sandbox.rebuild(&stack("example"));
    let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout.contains(&format!(
            "    member of {iam_user}, the login of database.auth = \"iam\", which owns the tables\n"
        )),
        "{}",
        run.stdout
    );
    let run = sandbox.infra(&["apply"]).ok();
    assert!(
        run.mutating().iter().any(|call| call.starts_with(&format!(
            "gcloud sql users create mlflow --instance=mlflow-db --database-roles=cloudsqlsuperuser,{iam_user} --flags-file="
        ))),
        "{:#?}",
        run.mutating()
    );
    assert!(can_use_tables(&sandbox, "mlflow"));
    assert_eq!(sandbox.infra(&["plan", "--detailed-exitcode"]).code, 0);

    // Back on iam, then destroy: no login, no password left.
    sandbox.rebuild(&iam);
    assert_eq!(sandbox.infra(&["plan", "--detailed-exitcode"]).code, 2);
    sandbox.infra(&["apply"]).ok();
    assert_eq!(sandbox.infra(&["plan", "--detailed-exitcode"]).code, 0);
    sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(
        sandbox.resources_of(&["sql-user", "secret"]),
        Vec::<String>::new()
    );
}
