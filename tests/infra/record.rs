//! The Secret Manager record of what the stack made: a label for each resource it
//! vouches for, notes (annotations) for the rest, and a failed write to it stops the run.

use super::*;

/// The notes `kubectl` context and `keys` (a local stack's) are annotations only: no label
/// says `kube-context=true` or `keys=true`, which would vouch for nothing.
#[test]
fn the_context_and_the_keys_are_notes_without_a_label() {
    let sandbox = Sandbox::new(&stack("local"));
    sandbox.infra(&["apply"]).ok();
    let labels = record_entries(&sandbox);
    for note in ["kube-context", "keys"] {
        assert!(!labels.iter().any(|label| label == note), "{labels:?}");
    }
    let record = sandbox.resource(&format!("secret {}", sandbox.plan.names.record_secret));
    let notes = &record["annotations"];
    assert_eq!(notes["kube-context"], "kind-mlflow", "{record}");
    let keys = notes["keys"].as_str().unwrap();
    assert_eq!(keys.split(' ').count(), 2, "{keys}");
    // `destroy` still deletes the keys and forgets them.
    sandbox.infra(&["destroy", "--yes"]).ok();
    assert!(sandbox.resources_of(&["service-account-key"]).is_empty());
    let record = sandbox.resource(&format!("secret {}", sandbox.plan.names.record_secret));
    assert!(record["annotations"].get("keys").is_none(), "{record}");
}

/// A failed write of the kubectl context into the record stops `apply` in the `secrets`
/// step, before any Secret goes into a cluster a later run could not find again; the next
/// run records the context and goes on.
#[test]
fn a_failed_context_record_stops_apply() {
    let sandbox = Sandbox::new(&stack("local"));
    let failed = sandbox.infra_with(&["apply"], &[("FAKE_FAIL", "kube-context=")]);
    failed.failed_as_injected();
    let steps: Vec<String> = failed.results().into_iter().map(|(step, _)| step).collect();
    let secrets = sandbox
        .plan
        .infra
        .steps
        .iter()
        .position(|step| step.name() == "secrets");
    assert_eq!(
        steps,
        sandbox.plan.infra.steps[..secrets.unwrap()]
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        "{}",
        failed.stdout
    );
    assert_eq!(
        sandbox.resources_of(&["k8s"]),
        Vec::<String>::new(),
        "{}",
        failed.transcript
    );
    let record = sandbox.resource(&format!("secret {}", sandbox.plan.names.record_secret));
    assert!(
        record["annotations"].get("kube-context").is_none(),
        "{record}"
    );

    sandbox.infra(&["apply"]).ok();
    let record = sandbox.resource(&format!("secret {}", sandbox.plan.names.record_secret));
    assert_eq!(record["annotations"]["kube-context"], "kind-mlflow");
    assert!(!sandbox.resources_of(&["k8s"]).is_empty());
}
