//! The garbage collector: a CronJob running `mlflow gc` against the server's backend store
//! and artifact location, behind its own Cloud SQL Auth Proxy.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{Container, LocalObjectReference, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::k8s::{
    BACKEND_STORE_URI, MAX_OVERFLOW, POOL_SIZE, auth, meta, pod_security_context, proxy, resources,
    restricted_security_context, server_env, server_mounts, value, volumes,
};
use crate::plan::{GcPlan, Plan};

/// The collector's arguments: the server's backend store, and where artifact URIs resolve.
fn args(gc: &GcPlan) -> Vec<String> {
    vec![
        format!("--backend-store-uri=$({BACKEND_STORE_URI})"),
        format!("--older-than={}", gc.older_than),
        // Proxied artifacts (`mlflow-artifacts:` URIs) resolve against the tracking server,
        // which deletes them in the bucket; `gs://` URIs are deleted directly, and the
        // tracking URI only has to be set.
        match &gc.server_url {
            Some(url) => format!("--tracking-uri={url}"),
            None => format!("--tracking-uri=$({BACKEND_STORE_URI})"),
        },
    ]
}

fn collector(plan: &Plan, gc: &GcPlan) -> Container {
    let mut env = server_env(plan);
    // One engine, at most two connections: what the connection budget counts for it.
    env.push(value(POOL_SIZE, "1"));
    env.push(value(MAX_OVERFLOW, "1"));
    if gc.server_url.is_some() {
        // Behind basic auth the server deletes artifacts for the admin only.
        env.extend(auth::tracking_credentials(plan));
    }
    Container {
        name: "gc".to_owned(),
        image: Some(plan.image.image.clone()),
        image_pull_policy: Some("Always".to_owned()),
        command: Some(vec!["mlflow".to_owned(), "gc".to_owned()]),
        args: Some(args(gc)),
        env: Some(env),
        resources: Some(resources("100m", "512Mi", "512Mi")),
        security_context: Some(restricted_security_context()),
        volume_mounts: Some(server_mounts(plan)),
        ..Container::default()
    }
}

#[must_use]
pub fn cron_job(plan: &Plan, gc: &GcPlan) -> CronJob {
    let metadata = ObjectMeta {
        labels: Some(gc.labels.clone()),
        ..meta(plan, &gc.name)
    };
    CronJob {
        metadata,
        spec: Some(CronJobSpec {
            schedule: gc.schedule.clone(),
            // Explicit, so that the schedule means the same on every cluster.
            time_zone: Some("Etc/UTC".to_owned()),
            // A slow collection is never overlapped by the next one.
            concurrency_policy: Some("Forbid".to_owned()),
            starting_deadline_seconds: Some(3600),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(3),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(gc.labels.clone()),
                    ..ObjectMeta::default()
                }),
                spec: Some(JobSpec {
                    backoff_limit: Some(2),
                    // A collection that hangs is stopped before the next one is due.
                    active_deadline_seconds: Some(3 * 3600),
                    template: PodTemplateSpec {
                        metadata: Some(ObjectMeta {
                            labels: Some(gc.labels.clone()),
                            annotations: Some(BTreeMap::from([(
                                "kubectl.kubernetes.io/default-container".to_owned(),
                                "gc".to_owned(),
                            )])),
                            ..ObjectMeta::default()
                        }),
                        spec: Some(PodSpec {
                            service_account_name: Some(plan.names.workload.clone()),
                            automount_service_account_token: Some(false),
                            enable_service_links: Some(false),
                            restart_policy: Some("Never".to_owned()),
                            security_context: Some(pod_security_context()),
                            image_pull_secrets: plan.names.pull_secret.as_ref().map(|secret| {
                                vec![LocalObjectReference {
                                    name: secret.clone(),
                                }]
                            }),
                            // The proxy is a native sidecar: the Job completes when `gc`
                            // exits, and the kubelet then stops the proxy.
                            init_containers: Some(vec![proxy(plan)]),
                            containers: vec![collector(plan, gc)],
                            volumes: Some(volumes(plan)),
                            ..PodSpec::default()
                        }),
                    },
                    ..JobSpec::default()
                }),
            },
            ..CronJobSpec::default()
        }),
        ..CronJob::default()
    }
}
