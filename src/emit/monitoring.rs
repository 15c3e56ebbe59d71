//! `PodMonitoring` (`monitoring.googleapis.com/v1`): Google Cloud Managed Service for
//! Prometheus scrapes the server's `/metrics`. A custom resource, so a typed struct of our
//! own, validated against the CRD's schema in the conformance suite.

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
