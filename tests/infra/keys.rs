//! A local stack's service account key files: where they are written, what git must say
//! first, no symbolic link on the way, and `destroy` deleting the keys from IAM.

use super::*;

/// An organization policy that forbids key files stops a local stack with what to do.
#[test]
fn an_org_policy_against_keys_gets_a_clear_message() {
    let sandbox = Sandbox::new(&stack("local"));
    sandbox.seed(
        "org-policy iam.disableServiceAccountKeyCreation",
        json!({"booleanPolicy": {"enforced": true}}),
    );
    let run = sandbox.infra(&["apply"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "infra.sh: organization policies of project acme-ml-dev refuse what this stack \
         creates; nothing was changed:\n  - constraints/iam.disableServiceAccountKeyCreation \
         forbids service account keys, and a local stack gives its server a key file: ask an \
         organization policy administrator to exempt project acme-ml-dev, or run MLflow on GKE \
         (`environment = \"gke\"`), where Workload Identity needs no key\n"
    );
    run.changed_nothing();
}

/// Key files are written at the top of the git work tree holding the bundle, whichever
/// directory infra.sh runs from, never inside the bundle; git must ignore them first.
#[test]
fn key_files_live_outside_the_bundle_where_git_ignores_them() {
    let sandbox = Sandbox::new(&stack("local"));
    symlink(system_tool("git"), sandbox.path("bin/git")).unwrap();
    let repo_dir = sandbox.path("repo");
    fs::create_dir_all(repo_dir.join("deploy")).unwrap();
    fs::rename(sandbox.path("bundle"), repo_dir.join("deploy/local")).unwrap();
    let git = |args: &[&str]| {
        let status = Command::new(system_tool("git"))
            .args(args)
            .current_dir(&repo_dir)
            .env("HOME", sandbox.path("home"))
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    };
    git(&["init", "-q"]);
    // A rule that re-includes JSON files: git would not ignore the keys.
    fs::write(repo_dir.join(".gitignore"), "!*.json\n").unwrap();
    fs::create_dir_all(repo_dir.join(".mlflow_credentials")).unwrap();
    fs::write(repo_dir.join(".mlflow_credentials/.gitignore"), "!*.json\n").unwrap();
    let script = repo_dir.join("deploy/local/infra.sh");
    let run = |dir: &Path| {
        sandbox
            .command(&[script.to_str().unwrap()], &["apply"], &[])
            .current_dir(dir)
            .output()
            .unwrap()
    };
    let out = run(&sandbox.path("work"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.ends_with("mlflow-server.json: a rule in a .gitignore re-includes it; fix that before key files are written\n"),
        "{stderr}"
    );
    assert!(
        !repo_dir
            .join(".mlflow_credentials/mlflow-server.json")
            .exists()
    );

    fs::write(repo_dir.join(".mlflow_credentials/.gitignore"), "*\n").unwrap();
    fs::write(repo_dir.join(".gitignore"), "").unwrap();
    for dir in [sandbox.path("work"), repo_dir.join("deploy")] {
        let out = run(&dir);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        repo_dir
            .join(".mlflow_credentials/mlflow-server.json")
            .is_file()
    );
    assert!(!repo_dir.join("deploy/local/.mlflow_credentials").exists());
    assert!(!sandbox.path("work/.mlflow_credentials").exists());
}

/// A credentials directory that is a symbolic link (here to a directory outside the work
/// tree) is refused before anything changes: no key is written through it, and its target
/// keeps its mode.
#[test]
fn a_linked_credentials_directory_is_refused() {
    let sandbox = Sandbox::new(&stack("local"));
    let outside = sandbox.path("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::set_permissions(&outside, fs::Permissions::from_mode(0o755)).unwrap();
    let link = sandbox.path(".mlflow_credentials");
    symlink(&outside, &link).unwrap();
    let run = sandbox.infra(&["apply"]);
    run.stopped_before_any_change();
    assert_eq!(
        run.stderr,
        format!(
            "infra.sh: {} is a symbolic link: infra.sh writes key files only into a directory of \
             their own, never through a link; replace the link with a directory, or set \
             credentials.dir to another path\n",
            link.display()
        )
    );
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    assert_eq!(
        fs::metadata(&outside).unwrap().permissions().mode() & 0o777,
        0o755
    );
}

/// A key file that is a symbolic link is no key: refused before anything changes, and its
/// target never reaches a Kubernetes Secret.
#[test]
fn a_linked_key_file_is_refused() {
    let sandbox = Sandbox::new(&stack("local"));
    let dir = sandbox.path(".mlflow_credentials");
    fs::create_dir_all(&dir).unwrap();
    fs::write(sandbox.path("not-a-key.txt"), "someone else's file").unwrap();
    let key = dir.join("mlflow-server.json");
    symlink(sandbox.path("not-a-key.txt"), &key).unwrap();
    for args in [&["plan"][..], &["apply"], &["apply", "secrets"]] {
        let run = sandbox.infra(args);
        run.stopped_before_any_change();
        assert_eq!(
            run.stderr,
            format!(
                "infra.sh: {} is a symbolic link, not a key file infra.sh wrote: remove it (apply \
                 writes a new key)\n",
                key.display()
            )
        );
    }
}

/// The keys `apply` created are deleted from IAM by `destroy`, also those of a service
/// account that existed before (it stays, and a key left on it would stay valid).
#[test]
fn destroy_deletes_the_keys_apply_created() {
    let sandbox = Sandbox::new(&stack("local"));
    let plan = &sandbox.plan;
    sandbox.seed(
        &format!("service-account {}", plan.identity.server_email),
        json!({"email": plan.identity.server_email, "displayName": "made by hand"}),
    );
    sandbox.infra(&["apply"]).ok();
    let keys = sandbox.resources_of(&["service-account-key"]);
    assert_eq!(keys.len(), 2, "{keys:?}");
    let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert!(
        run.calls
            .iter()
            .any(|call| call.starts_with("gcloud iam service-accounts keys delete")),
        "{:#?}",
        run.calls
    );
    assert_eq!(
        sandbox.resources_of(&["service-account-key"]),
        Vec::<String>::new()
    );
    // The adopted account stays.
    sandbox.resource(&format!("service-account {}", plan.identity.server_email));
}
