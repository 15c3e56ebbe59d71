//! No secret value leaves where it belongs: not into a command line, not into `bash -x`'s
//! trace.

use super::*;

/// No password, key or token is ever a command argument: the database password reaches
/// gcloud in a flags file, the pull secret's credentials in a file, all in a private
/// directory that is gone after the run. Checked for every value of every stack's first
/// apply (which destroy then deletes) and of the apply after it, which makes new ones.
#[test]
fn no_secret_value_in_any_argv() {
    let scratch = TempDir::new("infra-secrets");
    let mut stacks = stack_files("stacks");
    stacks.push(gcr_stack(&scratch));
    for path in stacks {
        let sandbox = Sandbox::new(&path);
        sandbox.infra(&["plan"]).ok();
        sandbox.infra(&["apply"]).ok();
        let mut secrets = secret_values(&sandbox);
        sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
        sandbox.infra(&["apply"]).ok();
        secrets.extend(secret_values(&sandbox));
        assert!(
            !secrets.is_empty() || sandbox.plan.database.iam_auth && sandbox.plan.cluster.gke()
        );
        for call in sandbox.calls() {
            for secret in &secrets {
                assert!(
                    call.argv.iter().all(|arg| !arg.contains(secret.as_str())),
                    "{}: a secret in {}",
                    path.display(),
                    call.line()
                );
            }
        }
        let script = fs::read_to_string(sandbox.path("bundle/infra.sh")).unwrap();
        assert!(!script.contains("--password="), "{}", path.display());
        assert!(!script.contains("--docker-password"), "{}", path.display());
    }
}

/// Every secret value in the project and the key files: Secret Manager data, database
/// passwords, private keys.
pub(super) fn secret_values(sandbox: &Sandbox) -> Vec<String> {
    let mut secrets: Vec<String> = Vec::new();
    let state = sandbox.state();
    for (key, value) in state["resources"].as_object().unwrap() {
        if key.starts_with("secret ") {
            secrets.extend(value["data"].as_str().map(str::to_owned));
        }
        if key.starts_with("sql-user ") {
            secrets.extend(value["password"].as_str().map(str::to_owned));
        }
    }
    for file in sandbox.key_files() {
        let key: Value = serde_json::from_str(&fs::read_to_string(file).unwrap()).unwrap();
        secrets.push(key["private_key"].as_str().unwrap().to_owned());
    }
    secrets
}

/// `bash -x` prints every command and assignment: none carries a secret.
#[test]
fn bash_xtrace_prints_no_secret() {
    for name in ["local", "local-basic"] {
        let sandbox = Sandbox::new(&stack(name));
        let script = sandbox.path("bundle/infra.sh");
        let out = sandbox
            .command(&["-x", script.to_str().unwrap()], &["apply"], &[])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}");
        let trace = String::from_utf8_lossy(&out.stderr);
        assert!(trace.contains("gcloud sql users create"), "{trace}");
        // The database password, the basic-auth admin password and Flask key, the keys.
        let secrets = secret_values(&sandbox);
        assert!(secrets.len() >= 2, "{name}: {secrets:?}");
        for secret in secrets {
            assert!(!trace.contains(&secret), "{name}: a secret is in the trace");
        }
    }
}
