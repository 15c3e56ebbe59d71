//! A GKE Gateway, planned: its class, the reserved address, the Certificate Manager
//! resources that give it a Google-managed certificate for `host`, IAP's members, and the
//! `infra.sh` steps that create them.

use serde::Serialize;

use crate::model::{Auth, DnsLabel, ExposeScope, Gateway};

/// The backend timeout of the load balancer, in seconds: a multi-GB artifact upload
/// through the server (`--serve-artifacts`) must finish within it (the default is 30 s).
pub const BACKEND_TIMEOUT_SEC: u32 = 3600;

/// Where a global external Application Load Balancer's health checks and proxies (Google
/// Front Ends) reach zonal NEG backends from (the GFE proxy ranges are the health check
/// ranges for zonal NEGs): <https://cloud.google.com/load-balancing/docs/firewall-rules>.
pub const GOOGLE_FRONT_END_RANGES: &[&str] = &["35.191.0.0/16", "130.211.0.0/22"];

/// The Gateway and what it takes.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayPlan {
    /// The DNS name served over HTTPS.
    pub host: String,
    /// `external` or `internal`.
    pub scope: &'static str,
    /// The GatewayClass for the scope.
    pub class: &'static str,
    /// The Gateway, HTTPRoutes and policies (the Service's name).
    pub name: String,
    /// The HTTPRoute that redirects HTTP to HTTPS.
    pub redirect_route: String,
    /// The reserved address (global for external).
    pub address: String,
    pub dns_authorization: String,
    pub certificate: String,
    pub certificate_map: String,
    pub certificate_map_entry: String,
    pub backend_timeout_sec: u32,
    /// IAP members, when IAP signs users in.
    pub iap_members: Vec<String>,
}

impl GatewayPlan {
    #[must_use]
    pub fn new(gateway: &Gateway, auth: &Auth, name: &DnsLabel, workload: &str) -> Self {
        let (scope, class) = match gateway.scope {
            ExposeScope::External => ("external", "gke-l7-global-external-managed"),
            ExposeScope::Internal => ("internal", "gke-l7-rilb"),
        };
        let iap_members = match auth {
            Auth::Iap { members } => members.iter().map(ToString::to_string).collect(),
            Auth::None | Auth::Basic { .. } => Vec::new(),
        };
        Self {
            host: gateway.host.to_string(),
            scope,
            class,
            name: workload.to_owned(),
            redirect_route: format!("{workload}-https-redirect"),
            address: format!("{name}-gateway-ip"),
            dns_authorization: format!("{name}-dns-auth"),
            certificate: format!("{name}-cert"),
            certificate_map: format!("{name}-certmap"),
            certificate_map_entry: format!("{name}-certmap-entry"),
            backend_timeout_sec: BACKEND_TIMEOUT_SEC,
            iap_members,
        }
    }

    /// Whether IAP signs users in.
    #[must_use]
    pub fn iap(&self) -> bool {
        !self.iap_members.is_empty()
    }

    /// The steps that create the gateway's Google Cloud side, after the cluster: the
    /// address, the certificate (its DNS authorization first) and its map; IAP's access.
    pub fn add_steps(&self, steps: &mut Vec<&'static str>) {
        let at = steps
            .iter()
            .position(|s| *s == "cluster")
            .map_or(steps.len(), |i| i + 1);
        let mut new = vec!["gateway-address", "certificate"];
        if self.iap() {
            new.push("iap");
        }
        for (offset, step) in new.into_iter().enumerate() {
            steps.insert(at + offset, step);
        }
    }
}
