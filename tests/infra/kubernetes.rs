//! The Kubernetes side: the namespace (owned or shared), the kubectl context a local
//! stack keeps to, and the Secrets `infra.sh` puts there.

use super::*;

/// A shared namespace (`namespace_shared`, and `default`, which every cluster has) belongs
/// to others: `infra.sh` puts its Secrets there but never creates, labels or deletes it
/// (one that does not exist: `a_missing_shared_namespace_fails_before_any_mutation`).
#[test]
fn a_shared_namespace_is_never_created_labelled_or_deleted() {
    let scratch = TempDir::new("infra-shared-namespace");
    let default = changed_stack(
        &scratch,
        "local",
        &[(
            "environment = \"local\"",
            "environment = \"local\"\nnamespace = \"default\"",
        )],
        "",
    );
    let shared = repo().join("tests/fixtures/good/shared-namespace.toml");
    let touches_a_namespace = |run: &Run| -> Vec<String> {
        run.calls
            .iter()
            .filter(|call| call.tool == "kubectl")
            .filter(|call| {
                let words: Vec<&str> = call.argv.iter().map(String::as_str).collect();
                matches!(
                    words.first(),
                    Some(&("create" | "label" | "annotate" | "delete" | "patch" | "apply"))
                ) && (words.contains(&"namespace")
                    || words.contains(&"ns")
                    || call.note.contains("Namespace/"))
            })
            .map(Call::line)
            .collect()
    };
    for path in [&default, &shared] {
        let sandbox = Sandbox::new(path);
        let namespace = sandbox.plan.names.namespace.clone();
        assert!(!sandbox.plan.names.owns_namespace, "{namespace}");
        let before = sandbox.state()["resources"][format!("k8s Namespace/{namespace}")].clone();
        for args in [
            &["apply"][..],
            &["apply"],
            &["destroy", "--yes", "--delete-data"],
        ] {
            let run = sandbox.infra(args).ok();
            assert_eq!(
                touches_a_namespace(&run),
                Vec::<String>::new(),
                "{namespace} {args:?}"
            );
            assert_eq!(
                sandbox.state()["resources"][format!("k8s Namespace/{namespace}")],
                before,
                "{namespace} {args:?}"
            );
        }
    }
}

/// A shared namespace that does not exist stops `plan` and `apply` in the preflight, with
/// its name and what to do, before anything changes: not in the `secrets` step after Cloud
/// SQL, the bucket and the image. The check belongs to the steps that write into the
/// namespace (`apply bucket` goes on). On a cluster this run would create, the namespace
/// cannot exist yet: the message says to create the cluster first.
#[test]
fn a_missing_shared_namespace_fails_before_any_mutation() {
    let scratch = TempDir::new("infra-missing-namespace");
    let shared = "namespace = \"data-platform\"\nnamespace_shared = true";
    let local = changed_stack(
        &scratch,
        "local",
        &[(
            "environment = \"local\"",
            &format!("environment = \"local\"\n{shared}"),
        )],
        "",
    );
    let hint = "it is shared, so infra.sh does not create it: ask its owners to create it \
                (kubectl create namespace data-platform), or drop namespace_shared from the \
                stack file to let the bundle own it";
    for path in [
        repo().join("tests/fixtures/good/shared-namespace.toml"),
        local,
    ] {
        let sandbox = Sandbox::new(&path);
        let plan = &sandbox.plan;
        let cluster = if plan.cluster.gke() {
            format!("GKE cluster {}", plan.cluster.cluster.as_deref().unwrap())
        } else {
            "the cluster of kubectl context kind-mlflow".to_owned()
        };
        sandbox.unseed("k8s Namespace/data-platform");
        let before = sandbox.resources();
        for args in [&["plan"][..], &["apply"], &["apply", "secrets"]] {
            let run = sandbox.infra(args);
            let context = format!("{} {args:?}", path.display());
            run.stopped_before_any_step();
            assert_eq!(
                run.stderr,
                format!("infra.sh: namespace data-platform does not exist in {cluster}; {hint}\n"),
                "{context}"
            );
            // Nothing changed, the user's kubeconfig (the fake's kube-context entries)
            // included.
            assert_eq!(sandbox.resources(), before, "{context}");
        }
        let run = sandbox.infra(&["apply", "services", "bucket"]).ok();
        assert!(!run.mutating().is_empty());
    }

    // The cluster this run would create.
    let path = changed_stack(
        &scratch,
        "production",
        &[("namespace = \"ml-research\"", shared)],
        "",
    );
    let sandbox = Sandbox::new(&path);
    let before = sandbox.resources();
    let run = sandbox.infra(&["apply"]);
    run.stopped_before_any_change();
    assert_eq!(
        run.stderr,
        "infra.sh: namespace data-platform is shared, so it must exist before infra.sh puts \
         Secrets in it, and GKE cluster ml-platform does not exist yet: run 'bash infra.sh apply \
         services cluster' first, then ask the namespace's owners to create it, or drop \
         namespace_shared from the stack file to let the bundle own it\n"
    );
    assert_eq!(sandbox.resources(), before);
}

/// Local stacks run kubectl against its current context: without one, preflight stops
/// before anything changes.
#[test]
fn a_local_stack_without_a_kubectl_context_fails_before_any_mutation() {
    let sandbox = Sandbox::new(&stack("local"));
    sandbox.unseed("kube-context current");
    for args in [&["plan"][..], &["apply"]] {
        let run = sandbox.infra(args);
        run.stopped_before_any_step();
        assert_eq!(
            run.stderr,
            "infra.sh: kubectl has no current context: point it at the cluster MLflow runs on \
             (kubectl config use-context NAME), or name its context in the stack file \
             ([cluster] context = \"NAME\")\n"
        );
        assert_eq!(
            sandbox.resources(),
            BTreeSet::from(["kube-context kind-mlflow".to_owned()])
        );
    }
}

/// Makes `kind-other`, a context of another cluster, kubectl's current context; that
/// cluster has the stack's namespace and Secrets of the same names, which are not the
/// stack's.
pub(super) fn switch_to_another_cluster(sandbox: &Sandbox) -> Vec<String> {
    let plan = &sandbox.plan;
    sandbox.seed("kube-context kind-other", json!({"cluster": "other"}));
    sandbox.seed("kube-context current", json!({"name": "kind-other"}));
    sandbox.seed(
        &format!("k8s other:Namespace/{}", plan.names.namespace),
        json!({}),
    );
    let theirs: Vec<String> = plan
        .names
        .k8s_secrets
        .iter()
        .map(|secret| format!("k8s other:Secret/{}/{secret}", plan.names.namespace))
        .collect();
    for key in &theirs {
        sandbox.seed(key, json!({"data": ["theirs"]}));
    }
    theirs
}

/// Every kubectl call names the stack's context: after `kubectl config use-context` to
/// another cluster, `destroy` deletes the Secrets where `apply` put them, and none of the
/// other cluster's Secrets of the same names.
#[test]
fn kubectl_stays_on_the_context_apply_used() {
    let sandbox = Sandbox::new(&stack("local"));
    sandbox.infra(&["apply"]).ok();
    let plan = &sandbox.plan;
    let ours: Vec<String> = plan
        .names
        .k8s_secrets
        .iter()
        .map(|secret| format!("k8s Secret/{}/{secret}", plan.names.namespace))
        .collect();
    assert!(!ours.is_empty());
    let theirs = switch_to_another_cluster(&sandbox);
    let run = sandbox.infra(&["destroy", "--yes"]).ok();
    assert!(
        run.stdout
            .contains("kubectl context: kind-mlflow, where apply put this stack (the current context is kind-other)\n"),
        "{}",
        run.stdout
    );
    for call in run.calls.iter().filter(|call| call.tool == "kubectl") {
        assert!(
            call.argv[0] == "--context=kind-mlflow" || call.argv[0] == "config",
            "{}",
            call.line()
        );
    }
    let left = sandbox.resources();
    for key in &ours {
        assert!(!left.contains(key), "{key} is left");
    }
    for key in &theirs {
        assert!(left.contains(key), "{key} was deleted");
    }
}

/// `[cluster] context` names the context of a local stack: every kubectl call names it,
/// whatever the current context is.
#[test]
fn cluster_context_pins_a_local_stack() {
    let scratch = TempDir::new("infra-context");
    let pinned = changed_stack(
        &scratch,
        "local",
        &[],
        "[cluster]\ncontext = \"kind-mlflow\"",
    );
    let sandbox = Sandbox::new(&pinned);
    let theirs = switch_to_another_cluster(&sandbox);
    sandbox.infra(&["apply"]).ok();
    let plan = &sandbox.plan;
    for secret in &plan.names.k8s_secrets {
        sandbox.resource(&format!("k8s Secret/{}/{secret}", plan.names.namespace));
    }
    sandbox.infra(&["destroy", "--yes"]).ok();
    let left = sandbox.resources();
    for key in &theirs {
        assert!(left.contains(key), "{key} was deleted");
    }
    assert!(
        sandbox
            .resources_of(&["k8s"])
            .iter()
            .all(|key| key.starts_with("k8s other:") || key.starts_with("k8s Namespace/"))
    );
    // A context the kubeconfig does not have stops the preflight.
    sandbox.unseed("kube-context kind-mlflow");
    let run = sandbox.infra(&["plan"]);
    run.stopped_before_any_step();
    assert_eq!(
        run.stderr,
        "infra.sh: kubectl has no context kind-mlflow: point the kubeconfig at the cluster \
         MLflow runs on, or change [cluster] context in the stack file\n"
    );
}

/// A Secret of the stack's name that existed before `apply` (in a namespace others use
/// too) is adopted: reported, never replaced, and never deleted by `destroy`.
#[test]
fn a_secret_without_the_mark_is_adopted_and_kept() {
    let sandbox = Sandbox::new(&stack("local"));
    let plan = &sandbox.plan;
    let theirs = format!(
        "k8s Secret/{}/{}",
        plan.names.namespace, plan.names.k8s_secrets[0]
    );
    sandbox.seed(
        &format!("k8s Namespace/{}", plan.names.namespace),
        json!({}),
    );
    sandbox.seed(&theirs, json!({"data": ["theirs"]}));
    let run = sandbox.infra(&["apply"]).ok();
    assert!(
        run.stdout.contains(&format!(
            "    adopted: Secret {}/{} (not created by infra.sh: left as it is)\n",
            plan.names.namespace, plan.names.k8s_secrets[0]
        )),
        "{}",
        run.stdout
    );
    assert_eq!(sandbox.resource(&theirs), json!({"data": ["theirs"]}));
    // What apply created carries the mark.
    for secret in &plan.names.k8s_secrets[1..] {
        let created = sandbox.resource(&format!("k8s Secret/{}/{secret}", plan.names.namespace));
        assert_eq!(
            created["labels"]["mlflow-stack"],
            plan.names.stack_name.as_str()
        );
    }
    sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(sandbox.resource(&theirs), json!({"data": ["theirs"]}));
    for secret in &plan.names.k8s_secrets[1..] {
        assert!(
            !sandbox
                .resources()
                .contains(&format!("k8s Secret/{}/{secret}", plan.names.namespace))
        );
    }
}
