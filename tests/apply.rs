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

/// The README's commands, by section: the lines of its shell blocks.
fn readme_commands<'a>(readme: &'a str, section: &str) -> Vec<&'a str> {
    let mut in_section = false;
    let mut in_block = false;
    let mut lines = Vec::new();
    for line in readme.lines() {
        if line.starts_with("## ") {
            in_section = line == section;
        } else if line.starts_with("```") {
            in_block = !in_block;
        } else if in_section && in_block {
            lines.push(line);
        }
    }
    lines
}

/// One apply command for the first install and every upgrade: server-side, pruning
/// what the bundle no longer has through an ApplySet whose parent Secret lives in the
/// bundle's namespace and is named after the stack, never after a Secret `infra.sh`
/// writes; removing the bundle removes that Secret too.
#[test]
fn readme_applies_with_an_applyset_and_removes_its_record() {
    for path in good_stacks() {
        let (_, compiled) = compile_file(&path);
        let bundle = compiled.bundle.unwrap();
        let readme = bundle.get("README.md").unwrap();
        let infra = bundle.get("infra.sh").unwrap();
        let namespace = infra
            .lines()
            .find_map(|line| line.strip_prefix("readonly NAMESPACE="))
            .unwrap()
            .trim_matches('\'');
        let applies: Vec<&str> = readme_commands(readme, "## Apply")
            .into_iter()
            .filter(|line| line.contains("kubectl apply"))
            .collect();
        let [apply] = applies[..] else {
            panic!(
                "{}: one kubectl apply in Apply: {applies:?}",
                path.display()
            );
        };
        let parent = apply
            .split(' ')
            .find_map(|word| word.strip_prefix("--applyset="))
            .unwrap_or_else(|| panic!("{}: {apply}", path.display()));
        assert_eq!(
            apply,
            format!(
                "KUBECTL_APPLYSET=true kubectl apply --server-side --prune \
                 --applyset={parent} --namespace={namespace} -k kubernetes/"
            ),
            "{}",
            path.display()
        );
        let secrets = infra
            .lines()
            .find_map(|line| line.strip_prefix("readonly SECRETS=("))
            .unwrap();
        assert!(
            !secrets
                .trim_end_matches(')')
                .split(' ')
                .any(|secret| secret.trim_matches('\'') == parent),
            "{}: infra.sh writes a Secret named like the ApplySet's parent {parent}",
            path.display()
        );
        let dry_run = format!("{apply} --dry-run=server");
        assert!(
            readme_commands(readme, "## Change it").contains(&dry_run.as_str()),
            "{}: Change it shows {dry_run}",
            path.display()
        );
        let remove = readme_commands(readme, "## Remove it");
        assert_eq!(remove[0], "kubectl delete -k kubernetes/");
        assert!(
            remove[1].starts_with(&format!(
                "kubectl --namespace={namespace} delete secret {parent} --ignore-not-found"
            )),
            "{}: {remove:?}",
            path.display()
        );
    }
}

/// The repository README shows the example bundle's own apply command, on the path the
/// README builds it to.
#[test]
fn repository_readme_applies_the_example_as_its_bundle_readme_says() {
    let (_, compiled) = compile_file(&crate::support::repo().join("stacks/example.toml"));
    let bundle = compiled.bundle.unwrap();
    let apply = readme_commands(bundle.get("README.md").unwrap(), "## Apply")
        .into_iter()
        .find(|line| line.contains("kubectl apply"))
        .unwrap()
        .replace("-k kubernetes/", "-k deploy/example/kubernetes");
    let readme = std::fs::read_to_string(crate::support::repo().join("README.md")).unwrap();
    assert!(
        readme.lines().any(|line| line == apply),
        "README.md lacks: {apply}"
    );
}
