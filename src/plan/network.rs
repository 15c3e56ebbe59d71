//! How the Cloud SQL instance is reached: a public IP, or a private IP only on the GKE
//! cluster's VPC network through private services access
//! (https://cloud.google.com/sql/docs/postgres/configure-private-services-access).

use serde::Serialize;

use crate::model::{DatabaseIp, Stack};

/// The network the private instance lives on is the cluster's: `infra.sh` reads it from
/// the cluster (`container clusters describe`, `network`); a cluster the stack creates is
/// created on the project's `default` network, as gcloud does without `--network`.
pub const CREATED_CLUSTER_NETWORK: &str = "default";

/// The size of the address range `database.create_peering` allocates for Google's
/// services. Each service takes its subnets from it, Cloud SQL a /24 at least in each
/// region it serves; Google recommends a /16 for the services a network may come to use
/// (https://cloud.google.com/sql/docs/postgres/private-ip#allocated_ip_address_ranges,
/// https://cloud.google.com/vpc/docs/configure-private-services-access). The connection
/// serves every Google service on the network, not this stack's instance alone: a /16.
pub const PEERING_PREFIX_LENGTH: u8 = 16;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkPlan {
    /// `database.ip = "private"`: the instance has a private IP only, and the proxy
    /// connects to it (`--private-ip`).
    pub private_database: bool,
    /// The network of a cluster the stack creates, before it exists.
    pub created_cluster_network: &'static str,
    /// `database.create_peering`: the connection `infra.sh` makes when the network has none.
    pub peering: Option<PeeringPlan>,
}

/// The private services access connection a stack makes (`database.create_peering`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeeringPlan {
    /// The global address range (purpose `VPC_PEERING`) allocated for Google's services.
    pub range: String,
    pub prefix_length: u8,
}

impl NetworkPlan {
    #[must_use]
    pub fn new(stack: &Stack) -> Self {
        let private_database = stack.database.ip == DatabaseIp::Private;
        Self {
            private_database,
            created_cluster_network: CREATED_CLUSTER_NETWORK,
            peering: (private_database && stack.database.create_peering).then(|| PeeringPlan {
                range: format!("{}-google-services", stack.name),
                prefix_length: PEERING_PREFIX_LENGTH,
            }),
        }
    }
}
