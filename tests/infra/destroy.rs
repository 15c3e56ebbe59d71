//! `destroy`: it asks first, runs the steps backwards, keeps the data unless
//! `--delete-data`, and `destroy --plan` lists exactly what it then does.

use super::*;

#[test]
fn destroy_without_a_terminal_asks_for_yes() {
    let sandbox = Sandbox::new(&stack("example"));
    sandbox.infra(&["apply"]).ok();
    let before = sandbox.resources();
    let run = sandbox.infra(&["destroy"]);
    run.stopped_before_any_change();
    assert_eq!(
        run.stderr,
        "infra.sh: destroy asks for confirmation; pass --yes when not running in a terminal\n"
    );
    assert_eq!(sandbox.resources(), before);
}

#[test]
fn destroy_on_a_terminal_asks_first() {
    let sandbox = Sandbox::new(&stack("example"));
    sandbox.infra(&["apply"]).ok();
    let before = sandbox.resources();

    let run = sandbox.infra_on_terminal(&["destroy", "--delete-data"], "n");
    run.stopped_before_any_change();
    assert!(
        run.stdout.ends_with(
            "Delete the resources listed above from project acme-ml-prod? [y/N] n\n\
             infra.sh: nothing removed\n"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("gcloud storage rm --recursive gs://acme-ml-prod-mlflow\n")
    );
    assert_eq!(sandbox.resources(), before);

    let run = sandbox.infra_on_terminal(&["destroy"], "y");
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout
            .contains("Delete the resources listed above from project acme-ml-prod? [y/N] y\n"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("gcloud storage rm"), "{}", run.stdout);
    let mut kept = sandbox.always_kept();
    kept.extend(sandbox.data());
    assert_eq!(sandbox.resources(), kept);
}

/// `destroy --yes` runs the steps backwards, each removing what the same step of `apply`
/// created, keeps the bucket, the instance, the database, its user and password, and
/// changes nothing when run again; `--delete-data` removes those too.
#[test]
fn destroy_removes_in_reverse_order_and_keeps_the_data() {
    for path in stack_files("stacks") {
        let sandbox = Sandbox::new(&path);
        let plan = &sandbox.plan;
        let applied = sandbox.infra(&["apply"]).ok();
        let run = sandbox.infra(&["destroy", "--yes"]).ok();
        assert_eq!(kept_steps(&run), ReadmeFacts::new(plan).destroy_keeps);

        let steps: Vec<String> = run.results().into_iter().map(|(step, _)| step).collect();
        // The record of what apply created last: the steps ask it what is the stack's.
        let mut reversed: Vec<String> = plan
            .infra
            .steps
            .iter()
            .rev()
            .map(|step| step.name().to_owned())
            .collect();
        reversed.push("record".to_owned());
        assert_eq!(steps, reversed);
        for (step, result) in run.results() {
            let expected = match step.as_str() {
                "bucket" | "sql-instance" | "database" | "db-user" | "db-password"
                | "auth-database" | "auth-secrets" | "gateway-address" | "static-ip" | "record" => {
                    "kept (--delete-data removes it)"
                }
                "services" => "kept (other workloads may use the APIs)",
                "encryption-key" => "kept (the key and its bindings are its owners')",
                "peering" => {
                    "kept (the network's connection to Google's services, which other instances may use)"
                }
                "cluster" if !plan.cluster.create_cluster => "kept (not created by infra.sh)",
                "cluster" => "kept (--delete-cluster removes it)",
                "secrets" if plan.names.k8s_secrets.is_empty() => "absent",
                // An Autopilot cluster's nodes got nothing.
                "node-pull" if !plan.cluster.zonal_cluster => "absent",
                "backup" => "absent",
                _ => "deleted",
            };
            assert_eq!(result, expected, "{step}");
        }
        let mut kept = sandbox.always_kept();
        kept.extend(sandbox.data());
        kept.extend(sandbox.owned_cluster());
        assert_eq!(sandbox.resources(), kept);
        assert_eq!(sandbox.bindings(), sandbox.kept_grants());

        // Whatever a step created, the same step removes: with the steps reversed, what
        // was created last is removed first.
        let mut created_by = std::collections::BTreeMap::new();
        for (step, calls) in applied.calls_by_step() {
            for subject in calls.iter().filter_map(|call| subject(call)) {
                created_by.insert(subject, step.clone());
            }
        }
        for (step, calls) in run.calls_by_step() {
            for subject in calls.iter().filter_map(|call| subject(call)) {
                assert_eq!(created_by.get(&subject), Some(&step), "{subject}");
            }
        }

        let again = sandbox.infra(&["destroy", "--yes"]).ok();
        again.changed_nothing();

        // With the data: the database goes before its user, who owns MLflow's tables.
        let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
        let mut kept = sandbox.always_kept();
        kept.extend(sandbox.owned_cluster());
        assert_eq!(sandbox.resources(), kept, "{}", run.stdout);
        assert_eq!(sandbox.bindings(), sandbox.kept_grants());
        assert!(sandbox.key_files().iter().all(|file| !file.exists()));
        // (The last db-user step: the first pass only lists.)
        let (_, calls) = run
            .calls_by_step()
            .into_iter()
            .rev()
            .find(|(step, _)| step == "db-user")
            .unwrap();
        let deletions: Vec<String> = calls
            .iter()
            .filter(|call| call.mutating)
            .map(|call| call.argv[..3].join(" "))
            .collect();
        assert_eq!(deletions, ["sql databases delete", "sql users delete"]);
        let again = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
        again.changed_nothing();
    }
}

/// The resource a mutating call creates or deletes, named the same both ways; `None` for
/// a call that does not (`services enable`, `sql instances patch`, a read).
pub(super) fn subject(call: &Call) -> Option<String> {
    if !call.mutating {
        return None;
    }
    let words: Vec<&str> = call
        .argv
        .iter()
        .map(String::as_str)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let flag = |name: &str| {
        let prefix = format!("--{name}=");
        call.argv
            .iter()
            .find_map(|arg| arg.strip_prefix(&prefix))
            .unwrap_or_default()
            .to_owned()
    };
    // An image without its tag: `destroy` deletes every version of it.
    let untagged = |image: &str| match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name.to_owned(),
        _ => image.to_owned(),
    };
    let subject = match words.as_slice() {
        [
            ..,
            "add-iam-policy-binding" | "remove-iam-policy-binding",
            on,
        ] => {
            format!("binding {on} {} {}", flag("role"), flag("member"))
        }
        [
            "iap",
            "web",
            "add-iam-policy-binding" | "remove-iam-policy-binding",
        ] => {
            format!("binding iap-web {} {}", flag("role"), flag("member"))
        }
        ["certificate-manager", kind @ .., "create" | "delete", name] => {
            format!("certificate-manager {} {name}", kind.join(" "))
        }
        ["storage", "buckets", "create", url] | ["storage", "rm", url] => format!("bucket {url}"),
        ["sql", "instances", "delete", name] | ["beta", "sql", "instances", "create", name] => {
            format!("sql-instance {name}")
        }
        [
            "sql",
            kind @ ("databases" | "users"),
            "create" | "delete",
            name,
        ] => {
            format!("sql {kind} {}/{name}", flag("instance"))
        }
        ["iam", "service-accounts", "create", id] => format!(
            "service-account {id}@{}.iam.gserviceaccount.com",
            call.project.as_deref().unwrap()
        ),
        ["iam", "service-accounts", "delete", email] => format!("service-account {email}"),
        ["iam", "service-accounts", "keys", "create", file] => format!("key {file}"),
        ["secrets", "create" | "delete", name] => format!("secret {name}"),
        ["artifacts", "repositories", "create" | "delete", name] => format!("repository {name}"),
        ["builds", "submit", ..] => format!("image {}", untagged(&flag("tag"))),
        ["artifacts" | "container", .., "images", "delete", image] => {
            format!("image {}", untagged(image))
        }
        ["container", "clusters", "create-auto" | "delete", name] => format!("cluster {name}"),
        ["compute", "addresses", "create" | "delete", name] => format!("address {name}"),
        ["compute", "ssl-policies", "create" | "delete", name] => format!("ssl-policy {name}"),
        ["compute", "security-policies", "create" | "delete", name] => {
            format!("security-policy {name}")
        }
        ["apply"] => format!(
            "k8s {}",
            call.note.strip_prefix("stdin: ")?.split(' ').next()?
        ),
        ["delete", "secret", name] => format!("k8s Secret/{}/{name}", flag("namespace")),
        ["create", "namespace", name] => format!("k8s Namespace/{name}"),
        _ => return None,
    };
    Some(subject)
}

/// `destroy --plan` prints what destroy would delete, and deletes nothing.
#[test]
fn destroy_plan_lists_and_changes_nothing() {
    let sandbox = Sandbox::new(&stack("production"));
    sandbox.infra(&["apply"]).ok();
    let before = sandbox.resources();
    let run = sandbox.infra(&["destroy", "--plan", "--delete-data"]).ok();
    run.changed_nothing();
    assert_eq!(sandbox.resources(), before);
    let transcript = sandbox.normalized(&run.stdout);
    snapshot_settings()
        .bind(|| insta::assert_snapshot!("infra-destroy-plan@production", transcript));
    let run = sandbox
        .infra(&["destroy", "--plan", "--delete-data", "--delete-cluster"])
        .ok();
    assert!(
        run.stdout
            .contains("gcloud container clusters delete ml-platform")
    );
}

/// `(step, result, calls)` of each step of a `destroy --plan` listing, with the result
/// `destroy` would then report (`delete` → `deleted`) and the number of gcloud and kubectl
/// commands listed (`kube` is kubectl with the cluster's context).
pub(super) fn listed_steps(run: &Run) -> Vec<(String, String, usize)> {
    let mut steps: Vec<(String, String, usize)> = Vec::new();
    for line in run.stdout.lines() {
        let command = line.starts_with("    gcloud ")
            || (line.starts_with("    kubectl ") && !line.starts_with("    kubectl context: "));
        if command {
            steps.last_mut().unwrap().2 += 1;
        } else if let Some((_, rest)) = line.strip_prefix('[').and_then(|l| l.split_once("] ")) {
            let (step, result) = rest.split_once(": ").unwrap();
            let result = if result == "delete" {
                "deleted"
            } else {
                result
            };
            steps.push((step.to_owned(), result.to_owned(), 0));
        }
    }
    steps
}

/// `(step, result, calls)` of each step of the last pass of a run: the mutating gcloud and
/// kubectl calls it made.
pub(super) fn done_steps(run: &Run) -> Vec<(String, String, usize)> {
    let results = run.results();
    let by_step = run.calls_by_step();
    let last = &by_step[by_step.len() - results.len()..];
    results
        .into_iter()
        .zip(last)
        .map(|((step, result), (same, calls))| {
            assert_eq!(&step, same);
            let mutating = calls.iter().filter(|call| call.mutating).count();
            (step, result, mutating)
        })
        .collect()
}

/// `destroy --plan` lists exactly what `destroy` then does: the same result for every step
/// and as many commands as it runs, with each flag, after `apply` and after a partial
/// destroy. While listing nothing changes, so a step must decide from what the steps before
/// it would have removed, not from the project as it still is.
#[test]
fn destroy_plan_lists_what_destroy_does() {
    for path in stack_files("stacks") {
        let sandbox = Sandbox::new(&path);
        sandbox.infra(&["apply"]).ok();
        let mut passes = vec![vec![], vec!["--delete-data"]];
        if sandbox.plan.cluster.create_cluster {
            passes.push(vec!["--delete-data", "--delete-cluster"]);
        }
        for flags in passes {
            let context = format!("{} {flags:?}", path.display());
            let listed = sandbox
                .infra(&[&["destroy", "--plan"][..], &flags].concat())
                .ok();
            let done = sandbox
                .infra(&[&["destroy", "--yes"][..], &flags].concat())
                .ok();
            assert_eq!(
                done_steps(&done),
                listed_steps(&listed),
                "{context}\n{}\n{}",
                listed.stdout,
                done.stdout
            );
        }
    }
}
