//! The GKE Gateway of a stack with `expose.type = "gateway"`, as typed structs of our own
//! for the Gateway API and GKE custom resources: a Gateway with the class of its scope on
//! the reserved address and the certificate of `host`, an HTTPRoute to the Service,
//! one that redirects HTTP to HTTPS, a HealthCheckPolicy on `/health`, a
//! GCPBackendPolicy with a backend timeout for large uploads (and IAP when it signs
//! users in, and the Cloud Armor security policy when the stack has one), and a
//! GCPGatewayPolicy naming the SSL policy that refuses TLS below 1.2 (and, for an internal
//! gateway, whether other regions reach it). The conformance suite validates them against
//! the CRDs' JSON Schemas.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::emit::k8s::meta;
use crate::plan::Plan;
use crate::plan::gateway::GatewayPlan;

const GATEWAY_API: &str = "gateway.networking.k8s.io/v1";
const GKE_NETWORKING: &str = "networking.gke.io/v1";
/// The Gateway annotation naming the Certificate Manager certificate map:
/// <https://cloud.google.com/kubernetes-engine/docs/how-to/secure-gateway>.
pub const CERTMAP_ANNOTATION: &str = "networking.gke.io/certmap";
/// The HTTPS listener's TLS option naming the regional Certificate Manager certificates of
/// a regional Gateway, where certificate maps are not supported:
/// <https://cloud.google.com/kubernetes-engine/docs/how-to/secure-gateway>.
pub const CERT_MANAGER_CERTS_OPTION: &str = "networking.gke.io/cert-manager-certs";
const HTTP_LISTENER: &str = "http";
const HTTPS_LISTENER: &str = "https";

/// `gateway.networking.k8s.io/v1` Gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gateway {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: GatewaySpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewaySpec {
    pub gateway_class_name: String,
    pub listeners: Vec<Listener>,
    pub addresses: Vec<GatewayAddress>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Listener {
    pub name: String,
    pub protocol: String,
    pub port: i32,
    pub hostname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ListenerTls>,
}

/// TLS terminated at the listener with certificates named in `options`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenerTls {
    pub mode: String,
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayAddress {
    #[serde(rename = "type")]
    pub type_: String,
    pub value: String,
}

/// `gateway.networking.k8s.io/v1` HTTPRoute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRoute {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: HttpRouteSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteSpec {
    pub parent_refs: Vec<ParentRef>,
    pub hostnames: Vec<String>,
    pub rules: Vec<HttpRouteRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParentRef {
    pub kind: String,
    pub name: String,
    pub section_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteRule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<HttpRouteFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_refs: Vec<BackendRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRouteFilter {
    #[serde(rename = "type")]
    pub type_: String,
    pub request_redirect: RequestRedirect,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestRedirect {
    pub scheme: String,
    pub status_code: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendRef {
    pub kind: String,
    pub name: String,
    pub port: i32,
}

/// The object a GKE policy applies to: the server's Service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetRef {
    pub group: String,
    pub kind: String,
    pub name: String,
}

/// `networking.gke.io/v1` HealthCheckPolicy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthCheckPolicy {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: HealthCheckPolicySpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthCheckPolicySpec {
    pub default: HealthCheckDefault,
    pub target_ref: TargetRef,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthCheckDefault {
    pub check_interval_sec: i64,
    pub timeout_sec: i64,
    pub healthy_threshold: i64,
    pub unhealthy_threshold: i64,
    pub config: HealthCheckConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthCheckConfig {
    #[serde(rename = "type")]
    pub type_: String,
    pub http_health_check: HttpHealthCheck,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpHealthCheck {
    pub port_specification: String,
    pub request_path: String,
}

/// `networking.gke.io/v1` GCPBackendPolicy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcpBackendPolicy {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: GcpBackendPolicySpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcpBackendPolicySpec {
    pub default: GcpBackendPolicyDefault,
    pub target_ref: TargetRef,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcpBackendPolicyDefault {
    pub timeout_sec: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iap: Option<Iap>,
    /// The Cloud Armor security policy of the backend service, by name
    /// (<https://cloud.google.com/kubernetes-engine/docs/how-to/configure-gateway-resources>).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_policy: Option<String>,
}

/// IAP on the backend service, with the stack's OAuth client: Compute Engine requires
/// `oauth2ClientId` and `oauth2ClientSecret` when IAP is enabled
/// (<https://cloud.google.com/iap/docs/reference/compute-engine-apis>), and GKE documents
/// IAP for the Gateway with a client of one's own
/// (<https://cloud.google.com/kubernetes-engine/docs/how-to/configure-gateway-resources>).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Iap {
    pub enabled: bool,
    #[serde(rename = "clientID")]
    pub client_id: String,
    pub oauth2_client_secret: SecretRef,
}

/// A Secret in the policy's namespace, by name (GKE reads its key `key`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRef {
    pub name: String,
}

/// `networking.gke.io/v1` GCPGatewayPolicy: settings of the load balancer's frontend,
/// attached to the Gateway
/// (<https://cloud.google.com/kubernetes-engine/docs/how-to/configure-gateway-resources>).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcpGatewayPolicy {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: GcpGatewayPolicySpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcpGatewayPolicySpec {
    pub default: GcpGatewayPolicyDefault,
    pub target_ref: TargetRef,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcpGatewayPolicyDefault {
    /// The Compute Engine SSL policy of the target HTTPS proxy, by name.
    pub ssl_policy: String,
    /// Clients of every region reach a regional internal gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_global_access: Option<bool>,
}

fn service_ref(gateway: &GatewayPlan) -> TargetRef {
    TargetRef {
        group: String::new(),
        kind: "Service".to_owned(),
        name: gateway.name.clone(),
    }
}

/// The Gateway: an external one names its certificate map in an annotation; an internal
/// one names its regional certificate in the HTTPS listener's TLS options.
fn gateway(plan: &Plan, gateway: &GatewayPlan) -> Gateway {
    let mut metadata = meta(plan, &gateway.name);
    metadata.annotations = gateway
        .certificate_map
        .as_ref()
        .map(|map| BTreeMap::from([(CERTMAP_ANNOTATION.to_owned(), map.clone())]));
    let tls = |protocol: &str| {
        (protocol == "HTTPS" && gateway.internal()).then(|| ListenerTls {
            mode: "Terminate".to_owned(),
            options: BTreeMap::from([(
                CERT_MANAGER_CERTS_OPTION.to_owned(),
                gateway.certificate.clone(),
            )]),
        })
    };
    let listener = |name: &str, protocol: &str, port| Listener {
        name: name.to_owned(),
        protocol: protocol.to_owned(),
        port,
        hostname: gateway.host.clone(),
        tls: tls(protocol),
    };
    Gateway {
        api_version: GATEWAY_API.to_owned(),
        kind: "Gateway".to_owned(),
        metadata,
        spec: GatewaySpec {
            gateway_class_name: gateway.class.to_owned(),
            listeners: vec![
                listener(HTTP_LISTENER, "HTTP", 80),
                listener(HTTPS_LISTENER, "HTTPS", 443),
            ],
            addresses: vec![GatewayAddress {
                type_: "NamedAddress".to_owned(),
                value: gateway.address.clone(),
            }],
        },
    }
}

fn route(
    plan: &Plan,
    gateway: &GatewayPlan,
    name: &str,
    listener: &str,
    rule: HttpRouteRule,
) -> HttpRoute {
    HttpRoute {
        api_version: GATEWAY_API.to_owned(),
        kind: "HTTPRoute".to_owned(),
        metadata: meta(plan, name),
        spec: HttpRouteSpec {
            parent_refs: vec![ParentRef {
                kind: "Gateway".to_owned(),
                name: gateway.name.clone(),
                section_name: listener.to_owned(),
            }],
            hostnames: vec![gateway.host.clone()],
            rules: vec![rule],
        },
    }
}

/// HTTPS to the server's Service.
fn https_route(plan: &Plan, gateway: &GatewayPlan) -> HttpRoute {
    route(
        plan,
        gateway,
        &gateway.name,
        HTTPS_LISTENER,
        HttpRouteRule {
            filters: Vec::new(),
            backend_refs: vec![BackendRef {
                kind: "Service".to_owned(),
                name: gateway.name.clone(),
                port: i32::from(plan.exposure.port),
            }],
        },
    )
}

/// Plain HTTP answered with a permanent redirect to HTTPS, never served.
fn redirect_route(plan: &Plan, gateway: &GatewayPlan) -> HttpRoute {
    route(
        plan,
        gateway,
        &gateway.redirect_route,
        HTTP_LISTENER,
        HttpRouteRule {
            filters: vec![HttpRouteFilter {
                type_: "RequestRedirect".to_owned(),
                request_redirect: RequestRedirect {
                    scheme: "https".to_owned(),
                    status_code: 301,
                },
            }],
            backend_refs: Vec::new(),
        },
    )
}

/// The load balancer's health check asks MLflow's `/health` (which needs no sign-in) on
/// the port the Service sends traffic to.
fn health_check_policy(plan: &Plan, gateway: &GatewayPlan) -> HealthCheckPolicy {
    HealthCheckPolicy {
        api_version: GKE_NETWORKING.to_owned(),
        kind: "HealthCheckPolicy".to_owned(),
        metadata: meta(plan, &gateway.name),
        spec: HealthCheckPolicySpec {
            default: HealthCheckDefault {
                check_interval_sec: 10,
                timeout_sec: 5,
                healthy_threshold: 1,
                unhealthy_threshold: 3,
                config: HealthCheckConfig {
                    type_: "HTTP".to_owned(),
                    http_health_check: HttpHealthCheck {
                        port_specification: "USE_SERVING_PORT".to_owned(),
                        request_path: "/health".to_owned(),
                    },
                },
            },
            target_ref: service_ref(gateway),
        },
    }
}

fn backend_policy(plan: &Plan, gateway: &GatewayPlan) -> GcpBackendPolicy {
    GcpBackendPolicy {
        api_version: GKE_NETWORKING.to_owned(),
        kind: "GCPBackendPolicy".to_owned(),
        metadata: meta(plan, &gateway.name),
        spec: GcpBackendPolicySpec {
            default: GcpBackendPolicyDefault {
                timeout_sec: i64::from(gateway.backend_timeout_sec),
                iap: gateway.iap_client.as_ref().map(|client| Iap {
                    enabled: true,
                    client_id: client.client_id.clone(),
                    oauth2_client_secret: SecretRef {
                        name: client.secret.clone(),
                    },
                }),
                security_policy: gateway.armor.as_ref().map(|armor| armor.policy.clone()),
            },
            target_ref: service_ref(gateway),
        },
    }
}

fn gateway_policy(plan: &Plan, gateway: &GatewayPlan) -> GcpGatewayPolicy {
    GcpGatewayPolicy {
        api_version: GKE_NETWORKING.to_owned(),
        kind: "GCPGatewayPolicy".to_owned(),
        metadata: meta(plan, &gateway.name),
        spec: GcpGatewayPolicySpec {
            default: GcpGatewayPolicyDefault {
                ssl_policy: gateway.ssl_policy.clone(),
                allow_global_access: gateway.global_access,
            },
            target_ref: TargetRef {
                group: "gateway.networking.k8s.io".to_owned(),
                kind: "Gateway".to_owned(),
                name: gateway.name.clone(),
            },
        },
    }
}

/// One manifest of the gateway.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum GatewayObject {
    Gateway(Box<Gateway>),
    HttpRoute(Box<HttpRoute>),
    HealthCheckPolicy(Box<HealthCheckPolicy>),
    GcpBackendPolicy(Box<GcpBackendPolicy>),
    GcpGatewayPolicy(Box<GcpGatewayPolicy>),
}

/// The gateway's manifests with their file names; none without a gateway.
#[must_use]
pub fn objects(plan: &Plan) -> Vec<(&'static str, GatewayObject)> {
    let Some(g) = &plan.gateway else {
        return Vec::new();
    };
    vec![
        (
            "gateway.yaml",
            GatewayObject::Gateway(Box::new(gateway(plan, g))),
        ),
        (
            "httproute.yaml",
            GatewayObject::HttpRoute(Box::new(https_route(plan, g))),
        ),
        (
            "httproute-redirect.yaml",
            GatewayObject::HttpRoute(Box::new(redirect_route(plan, g))),
        ),
        (
            "healthcheckpolicy.yaml",
            GatewayObject::HealthCheckPolicy(Box::new(health_check_policy(plan, g))),
        ),
        (
            "gcpbackendpolicy.yaml",
            GatewayObject::GcpBackendPolicy(Box::new(backend_policy(plan, g))),
        ),
        (
            "gcpgatewaypolicy.yaml",
            GatewayObject::GcpGatewayPolicy(Box::new(gateway_policy(plan, g))),
        ),
    ]
}
