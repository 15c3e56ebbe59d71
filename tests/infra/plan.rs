//! `plan`: a read-only diff of the project against the stack, and the commands `apply`
//! would run.

use super::*;

/// `plan` reads and never changes: on an empty project every step would create (a cluster
/// the stack does not create is adopted), the summary counts them, and
/// `--detailed-exitcode` exits 2; after `apply` it finds nothing to change and exits 0.
#[test]
fn plan_is_a_read_only_diff() {
    let scratch = TempDir::new("infra-plan");
    for stack in every_stack(&scratch) {
        let sandbox = Sandbox::new(&stack);
        let context = stack.display();
        let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
        assert_eq!(run.code, 2, "{context}: {run:#?}");
        assert_eq!(run.mutating(), Vec::<String>::new(), "{context}");
        let expected: Vec<(String, String)> = sandbox
            .every_step("create")
            .into_iter()
            .map(|(step, result)| {
                let result = if step == "cluster" && !sandbox.plan.cluster.create_cluster {
                    "adopted".to_owned()
                } else {
                    result
                };
                (step, result)
            })
            .collect();
        assert_eq!(run.results(), expected, "{context}\n{}", run.stdout);
        let adopted =
            usize::from(sandbox.plan.cluster.gke() && !sandbox.plan.cluster.create_cluster);
        // The nodes of an Autopilot cluster are left alone: nothing to create.
        let unchanged = usize::from(
            sandbox
                .plan
                .infra
                .steps
                .iter()
                .any(|step| step.name() == "node-pull")
                && !sandbox.plan.cluster.zonal_cluster,
        );
        let summary = format!(
            "Plan: {} to create, 0 to update, {adopted} adopted, {unchanged} unchanged.\n",
            sandbox.plan.infra.steps.len() - adopted - unchanged
        );
        assert!(run.stdout.ends_with(&summary), "{context}\n{}", run.stdout);

        sandbox.infra(&["apply"]).ok();
        let (resources, bindings) = (sandbox.resources(), sandbox.bindings());
        let run = sandbox.infra(&["plan", "--detailed-exitcode"]);
        assert_eq!(run.code, 0, "{context}: {}", run.stdout);
        assert_eq!(run.results(), sandbox.every_step("ok"), "{context}");
        assert_eq!(run.mutating(), Vec::<String>::new(), "{context}");
        assert_eq!(sandbox.resources(), resources, "{context}");
        assert_eq!(sandbox.bindings(), bindings, "{context}");
    }
}

/// The plan of a stack on an empty project: every command apply would run, under its step.
#[test]
fn plan_prints_the_commands_it_would_run() {
    let sandbox = Sandbox::new(&stack("local"));
    let run = sandbox.infra(&["plan"]).ok();
    let transcript = sandbox.normalized(&run.stdout);
    snapshot_settings().bind(|| insta::assert_snapshot!("infra-plan@local", transcript));
}
