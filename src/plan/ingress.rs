//! Where the server's port is reached from, for each exposure: what the NetworkPolicy
//! admits, and what the bundle README says about it.
//!
//! Whatever the exposure, the kubelet's probes and `kubectl port-forward` come from the
//! pod's own node, which a NetworkPolicy always admits
//! (<https://kubernetes.io/docs/concepts/services-networking/network-policies/>).

use serde::Serialize;

use super::gateway::{GOOGLE_FRONT_END_RANGES, HEALTH_CHECK_RANGES};

/// The sources the NetworkPolicy admits to the server's port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngressPlan {
    /// Pods of every namespace of the cluster (in-cluster clients through the Service).
    pub cluster_pods: bool,
    /// Address ranges, each with where its traffic comes from.
    pub ranges: Vec<SourceRange>,
    /// Any source: a local cluster's load balancer forwards from the host, from addresses
    /// that depend on the tool (Docker Desktop, kind), so the port stays open to all and
    /// `[auth]` decides who gets in.
    pub anyone: bool,
}

/// One admitted range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRange {
    pub cidr: String,
    /// What sends from it, as the bundle README says.
    pub source: &'static str,
}

/// Where the clients of each exposure come from.
pub enum Exposure<'a> {
    /// `cluster-ip`: port-forward and pods of the cluster.
    ClusterIp,
    /// A load balancer on GKE: the `allow` ranges, whose addresses reach the pod unchanged
    /// (`externalTrafficPolicy: Local`), and pods of the cluster.
    GkeLoadBalancer { allow: &'a [String] },
    /// A load balancer on a local cluster.
    LocalLoadBalancer,
    /// An external GKE Gateway: only the load balancer's proxies and health checks.
    Gateway,
    /// An internal GKE Gateway: its Envoy proxies, from the proxy-only subnet, and Google
    /// Cloud health checks (<https://cloud.google.com/load-balancing/docs/firewall-rules>).
    InternalGateway { proxy_subnet: &'a str },
}

impl IngressPlan {
    #[must_use]
    pub fn new(exposure: &Exposure<'_>) -> Self {
        let front_ends = || {
            GOOGLE_FRONT_END_RANGES
                .iter()
                .map(|cidr| SourceRange {
                    cidr: (*cidr).to_owned(),
                    source: "Google Front Ends and health checks",
                })
                .collect()
        };
        match exposure {
            Exposure::ClusterIp => Self {
                cluster_pods: true,
                ranges: Vec::new(),
                anyone: false,
            },
            Exposure::GkeLoadBalancer { allow } => Self {
                cluster_pods: true,
                ranges: allow
                    .iter()
                    .map(|cidr| SourceRange {
                        cidr: cidr.clone(),
                        source: "clients of the load balancer (`expose.allow`)",
                    })
                    .collect(),
                anyone: false,
            },
            Exposure::LocalLoadBalancer => Self {
                cluster_pods: false,
                ranges: Vec::new(),
                anyone: true,
            },
            Exposure::Gateway => Self {
                cluster_pods: false,
                ranges: front_ends(),
                anyone: false,
            },
            Exposure::InternalGateway { proxy_subnet } => Self {
                cluster_pods: false,
                ranges: std::iter::once(SourceRange {
                    cidr: (*proxy_subnet).to_owned(),
                    source: "the internal load balancer's proxies (`expose.proxy_subnet`)",
                })
                .chain(HEALTH_CHECK_RANGES.iter().map(|cidr| SourceRange {
                    cidr: (*cidr).to_owned(),
                    source: "Google Cloud health checks",
                }))
                .collect(),
                anyone: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_exposure_admits_its_own_sources() {
        let cluster_ip = IngressPlan::new(&Exposure::ClusterIp);
        assert!(cluster_ip.cluster_pods && cluster_ip.ranges.is_empty() && !cluster_ip.anyone);

        let allow = vec!["203.0.113.0/24".to_owned()];
        let load_balancer = IngressPlan::new(&Exposure::GkeLoadBalancer { allow: &allow });
        assert!(load_balancer.cluster_pods && !load_balancer.anyone);
        assert_eq!(load_balancer.ranges.len(), 1);
        assert_eq!(load_balancer.ranges[0].cidr, "203.0.113.0/24");

        let gateway = IngressPlan::new(&Exposure::Gateway);
        assert!(!gateway.cluster_pods && !gateway.anyone);
        let cidrs: Vec<&str> = gateway.ranges.iter().map(|r| r.cidr.as_str()).collect();
        assert_eq!(cidrs, ["35.191.0.0/16", "130.211.0.0/22"]);

        let internal = IngressPlan::new(&Exposure::InternalGateway {
            proxy_subnet: "10.129.0.0/23",
        });
        assert!(!internal.cluster_pods && !internal.anyone);
        let cidrs: Vec<&str> = internal.ranges.iter().map(|r| r.cidr.as_str()).collect();
        assert_eq!(cidrs, ["10.129.0.0/23", "35.191.0.0/16", "130.211.0.0/22"]);

        let local = IngressPlan::new(&Exposure::LocalLoadBalancer);
        assert!(local.anyone && local.ranges.is_empty() && !local.cluster_pods);
    }
}
