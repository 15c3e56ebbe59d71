//! A GKE Gateway, planned: its class, the reserved address, the Certificate Manager
//! resources that give it a Google-managed certificate for `host`, and IAP's members.
//!
//! An external gateway (`gke-l7-global-external-managed`) has a global address and takes
//! its certificate through a global certificate map. An internal one (`gke-l7-rilb`, a
//! regional internal Application Load Balancer) has a regional internal address in the
//! cluster's subnet and takes a regional certificate by name in its HTTPS listener's TLS
//! options, as certificate maps are global only
//! (<https://cloud.google.com/kubernetes-engine/docs/how-to/secure-gateway>).

use serde::Serialize;

use super::armor::ArmorPlan;
use crate::model::{Auth, DnsLabel, ExposeScope, Gateway};

/// The backend timeout of the load balancer, in seconds: a multi-GB artifact upload
/// through the server (`--serve-artifacts`) must finish within it (the default is 30 s).
pub const BACKEND_TIMEOUT_SEC: u32 = 3600;

/// Where a global external Application Load Balancer's health checks and proxies (Google
/// Front Ends) reach zonal NEG backends from (the GFE proxy ranges are the health check
/// ranges for zonal NEGs): <https://cloud.google.com/load-balancing/docs/firewall-rules>.
pub const GOOGLE_FRONT_END_RANGES: &[&str] = &["35.191.0.0/16", "130.211.0.0/22"];

/// Where Google Cloud health checks probe the backends of a regional internal Application
/// Load Balancer from, besides its proxy-only subnet (the same ranges as above):
/// <https://cloud.google.com/load-balancing/docs/firewall-rules>.
pub const HEALTH_CHECK_RANGES: &[&str] = GOOGLE_FRONT_END_RANGES;

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
    /// The reserved address (global for external, regional for internal).
    pub address: String,
    /// The region of an internal gateway (the cluster's): its address, DNS authorization
    /// and certificate live there. `None` for an external gateway (all global).
    pub region: Option<String>,
    /// The proxy-only subnet of an internal gateway, as the stack gives it.
    pub proxy_subnet: Option<String>,
    pub dns_authorization: String,
    pub certificate: String,
    /// The certificate map and its entry (external only: maps are global).
    pub certificate_map: Option<String>,
    pub certificate_map_entry: Option<String>,
    pub backend_timeout_sec: u32,
    /// The Compute Engine SSL policy of the load balancer's HTTPS proxy: TLS 1.2 and newer
    /// only (global for an external gateway, in `region` for an internal one).
    pub ssl_policy: String,
    /// Whether clients of other regions reach an internal gateway (`allowGlobalAccess`);
    /// `None` for an external gateway, which every region reaches.
    pub global_access: Option<bool>,
    /// IAP members, when IAP signs users in.
    pub iap_members: Vec<String>,
    /// IAP's OAuth client: its ID and the Kubernetes Secret holding its secret.
    pub iap_client: Option<IapClient>,
    /// The Cloud Armor security policy the GCPBackendPolicy names (an external gateway with
    /// `allow`, `waf` or `rate_limit`).
    pub armor: Option<ArmorPlan>,
}

/// The OAuth client IAP signs users in with, as the `GCPBackendPolicy` names it.
#[derive(Debug, Clone, Serialize)]
pub struct IapClient {
    pub client_id: String,
    pub secret: String,
}

impl GatewayPlan {
    #[must_use]
    pub fn new(
        gateway: &Gateway,
        auth: &Auth,
        name: &DnsLabel,
        workload: &str,
        cluster_region: &str,
    ) -> Self {
        let (scope, class) = match gateway.scope {
            ExposeScope::External => ("external", "gke-l7-global-external-managed"),
            ExposeScope::Internal => ("internal", "gke-l7-rilb"),
        };
        let internal = gateway.scope == ExposeScope::Internal;
        let (iap_members, iap_client) = match auth {
            Auth::Iap {
                members,
                oauth_client_id,
                ..
            } => (
                members.iter().map(ToString::to_string).collect(),
                Some(IapClient {
                    client_id: oauth_client_id.to_string(),
                    secret: super::auth::oauth_k8s_secret(name),
                }),
            ),
            Auth::None | Auth::Basic { .. } => (Vec::new(), None),
        };
        Self {
            host: gateway.host.to_string(),
            scope,
            class,
            name: workload.to_owned(),
            redirect_route: format!("{workload}-https-redirect"),
            address: format!("{name}-gateway-ip"),
            region: internal.then(|| cluster_region.to_owned()),
            proxy_subnet: gateway.proxy_subnet.as_ref().map(ToString::to_string),
            dns_authorization: format!("{name}-dns-auth"),
            certificate: format!("{name}-cert"),
            certificate_map: (!internal).then(|| format!("{name}-certmap")),
            certificate_map_entry: (!internal).then(|| format!("{name}-certmap-entry")),
            backend_timeout_sec: BACKEND_TIMEOUT_SEC,
            ssl_policy: format!("{name}-ssl-policy"),
            global_access: internal.then_some(gateway.global_access),
            iap_members,
            iap_client,
            armor: None,
        }
    }

    /// Whether the gateway is internal (regional).
    #[must_use]
    pub fn internal(&self) -> bool {
        self.region.is_some()
    }

    /// Whether IAP signs users in.
    #[must_use]
    pub fn iap(&self) -> bool {
        !self.iap_members.is_empty()
    }
}
