//! How the Cloud SQL instance is reached: a public IP, or a private IP only on the GKE
//! cluster's VPC network through private services access
//! (https://cloud.google.com/sql/docs/postgres/configure-private-services-access).

use serde::Serialize;

use crate::model::{DatabaseIp, Stack};

/// The network the private instance lives on is the cluster's: `infra.sh` reads it from
/// the cluster (`container clusters describe`, `network`); a cluster the stack creates is
/// created on the project's `default` network, as gcloud does without `--network`.
pub const CREATED_CLUSTER_NETWORK: &str = "default";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkPlan {
    /// `database.ip = "private"`: the instance has a private IP only, and the proxy
    /// connects to it (`--private-ip`).
    pub private_database: bool,
    /// The network of a cluster the stack creates, before it exists.
    pub created_cluster_network: &'static str,
}

impl NetworkPlan {
    #[must_use]
    pub fn new(stack: &Stack) -> Self {
        Self {
            private_database: stack.database.ip == DatabaseIp::Private,
            created_cluster_network: CREATED_CLUSTER_NETWORK,
        }
    }
}
