//! The organization policy constraints a stack could break, and what of the stack each
//! one reads: `infra.sh`'s preflight reads the project's effective policy of each
//! (`gcloud resource-manager org-policies describe CONSTRAINT --effective`) and stops before
//! any change when one refuses what the stack would create.

use serde::Serialize;

use crate::model::{Auth, DatabaseIp, Environment, ExposeScope, ExposeType, Stack};

/// What the preflight checks against the organization's policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgPolicyPlan {
    /// `gcp.resourceLocations`: where the stack creates resources (the region of the bucket,
    /// the instance and the registry, and the cluster's location when the stack creates it).
    pub locations: Vec<String>,
    /// `compute.restrictLoadBalancerCreationForTypes`: the type of the load balancer GKE
    /// creates for the stack, as the constraint names it, and what creates it.
    pub load_balancer: Option<LoadBalancerType>,
    /// `iam.allowedPolicyMemberDomains`: the members outside the project the stack grants
    /// roles to (IAP's), which the constraint's customer list must admit.
    pub members: Vec<String>,
    /// `iam.disableServiceAccountKeyCreation`: a local stack creates key files.
    pub key_files: bool,
    /// `sql.restrictPublicIp`: the instance has a public IP.
    pub public_database: bool,
}

/// A load balancer type as `constraints/compute.restrictLoadBalancerCreationForTypes`
/// names it (https://cloud.google.com/load-balancing/docs/org-policy-constraints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadBalancerType {
    pub value: &'static str,
    /// What of the stack makes GKE create it.
    pub source: &'static str,
    /// The stack change that avoids it.
    pub fix: &'static str,
}

impl OrgPolicyPlan {
    #[must_use]
    pub fn new(stack: &Stack) -> Self {
        let gke = stack.environment == Environment::Gke;
        let mut locations = vec![stack.region.to_string()];
        if let Some(cluster) = stack.cluster.as_ref().filter(|c| c.create) {
            locations.push(cluster.location.to_string());
        }
        locations.dedup();
        let scope = stack.expose.gateway.as_ref().map(|g| g.scope);
        let load_balancer = match (stack.expose.kind, scope) {
            (ExposeType::Gateway, Some(ExposeScope::Internal)) => Some(LoadBalancerType {
                value: "INTERNAL_HTTP_HTTPS",
                source: "the internal gateway (a regional internal Application Load Balancer)",
                fix: "use `type = \"cluster-ip\"` in [expose], or ask for an exemption",
            }),
            (ExposeType::Gateway, _) => Some(LoadBalancerType {
                value: "GLOBAL_EXTERNAL_MANAGED_HTTP_HTTPS",
                source: "the external gateway (a global external Application Load Balancer)",
                fix: "use `scope = \"internal\"` in [expose] (with `proxy_subnet`), or \
                      `type = \"cluster-ip\"`",
            }),
            (ExposeType::LoadBalancer, _) if gke => Some(LoadBalancerType {
                value: "EXTERNAL_NETWORK_TCP_UDP",
                source: "the LoadBalancer Service (an external passthrough Network Load Balancer)",
                fix: "use `type = \"gateway\"` with `scope = \"internal\"` in [expose], or \
                      `type = \"cluster-ip\"`",
            }),
            _ => None,
        };
        let members = match &stack.auth {
            Auth::Iap { members, .. } => members
                .iter()
                .map(ToString::to_string)
                .filter(|m| !m.starts_with("serviceAccount:"))
                .collect(),
            _ => Vec::new(),
        };
        Self {
            locations,
            load_balancer,
            members,
            key_files: !gke,
            public_database: stack.database.ip == DatabaseIp::Public,
        }
    }
}
