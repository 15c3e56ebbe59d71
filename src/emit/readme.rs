//! The bundle's `README.md`: what it creates, how to apply it, and a Mermaid diagram of
//! this stack, drawn from the plan. Every claim is derived from plan data ([`ReadmeFacts`]
//! for what the plan does not hold as such), never written as fixed prose, so the README
//! cannot say what the bundle does not do; tests compare each claim with the bundle.

use std::collections::BTreeMap;

use minijinja::value::{Serde, Value};
use serde::Serialize;

use super::script;
use crate::names::reach;
use crate::plan::Plan;
use crate::plan::roles::{self, OperatorRole};
use crate::plan::steps::{Destroy, Step};

/// What the README says beyond the plan's own fields.
#[derive(Debug, Clone, Serialize)]
pub struct ReadmeFacts {
    /// The `Host` values the server accepts, each once: `name` stands for `name` and
    /// `name:*` (any port), both of which `--allowed-hosts` lists.
    pub host_names: Vec<String>,
    /// The URL of a gke load balancer for clients outside the cluster: only with a name
    /// the server accepts (its bare address gets 403).
    pub client_url: Option<String>,
    /// `infra.sh` steps whose resource `destroy` keeps, without and with `--delete-data`
    /// (`record`: the Secret Manager record of what `apply` created, which `destroy`
    /// removes after every step).
    pub destroy_keeps: Vec<&'static str>,
    pub destroy_keeps_with_delete_data: Vec<&'static str>,
    /// The IAM roles the person running `infra.sh` needs, from the same steps.
    pub roles: Vec<OperatorRole>,
    /// The README template of each step, by name: its bullet, and what `destroy` keeps.
    pub step_docs: BTreeMap<Step, &'static str>,
}

impl ReadmeFacts {
    #[must_use]
    pub fn new(plan: &Plan) -> Self {
        let hosts = &plan.server.allowed_hosts;
        let host_names = hosts
            .iter()
            .filter(|host| {
                host.strip_suffix(":*")
                    .is_none_or(|name| !hosts.iter().any(|h| h == name))
            })
            .cloned()
            .collect();
        // What goes only with `--delete-cluster` stays in both lists.
        let stays = |step: Step, with_data: bool| match step.destroy() {
            Destroy::Kept | Destroy::KeptUnlessDeleteCluster => true,
            Destroy::KeptUnlessDeleteData => with_data,
            Destroy::DeletedWhenOwned => false,
        };
        // The record of what `apply` created goes last, with the data, once nothing it
        // names stays: a cluster kept without `--delete-cluster` keeps it.
        let record =
            |with_data: bool| with_data || (plan.cluster.gke() && plan.cluster.create_cluster);
        let kept = |with_data: bool| {
            record(with_data)
                .then_some("record")
                .into_iter()
                .chain(
                    plan.infra
                        .steps
                        .iter()
                        .filter(|step| stays(**step, with_data))
                        .map(|step| step.name()),
                )
                .collect()
        };
        Self {
            host_names,
            client_url: (plan.cluster.gke() && plan.exposure.load_balancer)
                .then(|| {
                    reach::client_url(
                        plan.server.extra_allowed_hosts.iter().map(String::as_str),
                        plan.exposure.port,
                    )
                })
                .flatten(),
            destroy_keeps: kept(true),
            destroy_keeps_with_delete_data: kept(false),
            roles: roles::operator_roles(
                &plan.infra.steps,
                plan.cluster.create_cluster,
                plan.cluster.gke(),
                plan.network.private_database,
            ),
            step_docs: plan
                .infra
                .steps
                .iter()
                .map(|step| (*step, step.readme().0))
                .collect(),
        }
    }
}

/// # Panics
///
/// Only when the embedded template is broken, which every test run would show.
#[must_use]
pub fn readme(plan: &Plan, values: &Value, header: &str) -> String {
    let context = minijinja::context! {
        readme => Value::from(Serde(ReadmeFacts::new(plan))),
        ..values.clone()
    };
    let body = script::shared()
        .get_template("README.md.j2")
        .and_then(|template| template.render(context))
        .unwrap_or_else(|error| panic!("README.md.j2: {error:#}"));
    format!("<!-- {header} -->\n\n{body}")
}
