//! `PodMonitoring` (`monitoring.googleapis.com/v1`): Google Cloud Managed Service for
//! Prometheus scrapes the server's `/metrics`. A custom resource, so a typed struct of our
//! own, validated against the CRD's schema in the conformance suite.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Serialize;

use super::k8s::meta;
use crate::plan::Plan;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMonitoring {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: PodMonitoringSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMonitoringSpec {
    selector: LabelSelector,
    endpoints: Vec<ScrapeEndpoint>,
}

/// One scraped port: a container port name, the path, and a Prometheus duration.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScrapeEndpoint {
    port: &'static str,
    path: &'static str,
    interval: &'static str,
}

#[must_use]
pub fn pod_monitoring(plan: &Plan) -> PodMonitoring {
    PodMonitoring {
        api_version: "monitoring.googleapis.com/v1",
        kind: "PodMonitoring",
        metadata: meta(plan, &plan.names.workload),
        spec: PodMonitoringSpec {
            selector: LabelSelector {
                match_labels: Some(plan.names.selector.clone()),
                ..LabelSelector::default()
            },
            endpoints: vec![ScrapeEndpoint {
                port: "http",
                path: "/metrics",
                interval: "30s",
            }],
        },
    }
}

/// Managed Service for Prometheus's collectors: the DaemonSet pods labelled
/// `app.kubernetes.io/name: collector` in the `gmp-system` namespace, which scrape the pods
/// on their node. A NetworkPolicy that admits only some sources must admit them too.
#[must_use]
pub fn collector_peer() -> NetworkPolicyPeer {
    let labels = |key: &str, value: &str| LabelSelector {
        match_labels: Some(BTreeMap::from([(key.to_owned(), value.to_owned())])),
        ..LabelSelector::default()
    };
    NetworkPolicyPeer {
        namespace_selector: Some(labels("kubernetes.io/metadata.name", "gmp-system")),
        pod_selector: Some(labels("app.kubernetes.io/name", "collector")),
        ..NetworkPolicyPeer::default()
    }
}
