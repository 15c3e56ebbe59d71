//! `kubernetes/kustomization.yaml`: lists the manifests so the folder works with
//! `kubectl apply -k` and as a kustomize base.

use serde::Serialize;

use super::Bundle;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization {
    api_version: &'static str,
    kind: &'static str,
    resources: Vec<String>,
}

/// The manifests in apply order: the namespace first, the workload after its dependencies.
const ORDER: &[&str] = &[
    "namespace.yaml",
    "serviceaccount.yaml",
    "configmap.yaml",
    "service.yaml",
    "networkpolicy.yaml",
    "poddisruptionbudget.yaml",
    "deployment.yaml",
    "gateway.yaml",
    "httproute.yaml",
    "httproute-redirect.yaml",
    "healthcheckpolicy.yaml",
    "gcpbackendpolicy.yaml",
    "gcpgatewaypolicy.yaml",
    "horizontalpodautoscaler.yaml",
    "cronjob.yaml",
    "podmonitoring.yaml",
];

#[must_use]
pub fn resource_paths(bundle: &Bundle) -> Vec<String> {
    ORDER
        .iter()
        .map(|file| format!("kubernetes/{file}"))
        .filter(|path| bundle.files.contains_key(path))
        .collect()
}

#[must_use]
pub fn kustomization(bundle: &Bundle) -> Kustomization {
    Kustomization {
        api_version: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: resource_paths(bundle)
            .into_iter()
            .map(|path| path.trim_start_matches("kubernetes/").to_owned())
            .collect(),
    }
}
