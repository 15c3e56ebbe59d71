//! What the bundle needs to apply and upgrade cleanly on a real API server; the
//! cluster suite (tests/cluster/run.sh) proves it against kube-apiserver, these tests
//! pin the properties it found, without a cluster.

use k8s_openapi::api::core::v1::Namespace;
use mlflow_stack::emit::yaml;

use crate::support::{compile_file, stack_files};

fn good_stacks() -> Vec<std::path::PathBuf> {
    let mut stacks = stack_files("stacks");
    stacks.extend(stack_files("tests/fixtures/good"));
    stacks
}

/// Pod Security admission rejects pods by the `enforce` label only; it warns about a
/// Deployment's pod template (at apply time, where a reviewer sees it) only by `warn`,
/// and records violations only by `audit`. An owned namespace sets all three.
#[test]
fn owned_namespace_sets_every_pod_security_mode_to_restricted() {
    for path in good_stacks() {
        let (_, compiled) = compile_file(&path);
        let bundle = compiled.bundle.unwrap();
        let Some(text) = bundle.get("kubernetes/namespace.yaml") else {
            continue; // a namespace the bundle does not own
        };
        let namespace: Namespace = yaml::parse(text).unwrap();
        let labels = namespace.metadata.labels.unwrap_or_default();
        for mode in ["enforce", "warn", "audit"] {
            let key = format!("pod-security.kubernetes.io/{mode}");
            assert_eq!(
                labels.get(&key).map(String::as_str),
                Some("restricted"),
                "{}: {key}",
                path.display()
            );
        }
    }
}
