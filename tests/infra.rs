//! `infra.sh` run for real, against fake `gcloud`, `gsutil`, `kubectl` and `openssl`, one
//! module a topic. The harness (the fakes, the sandbox, a run, the expected state) is
//! `tests/support/infra/`.
#![cfg(unix)]

// What a topic module takes with `use super::*;`: the harness, the names the tests use,
// and the helpers a topic keeps that another may call.
#[allow(unused_imports)]
use {
    crate::support::infra::*,
    crate::support::{TempDir, compile_file, repo, snapshot_settings, stack_files},
    database::{can_use_tables, updates},
    destroy::{done_steps, listed_steps, subject},
    image::two_tags_built,
    kubernetes::switch_to_another_cluster,
    mlflow_stack::diag::Diagnostics,
    mlflow_stack::emit::readme::ReadmeFacts,
    mlflow_stack::plan::Plan,
    mlflow_stack::{parse, validate},
    ownership::unmark,
    secrets::secret_values,
    serde_json::{Value, json},
    sha2::{Digest, Sha256},
    std::collections::BTreeSet,
    std::fs,
    std::io::{BufRead, BufReader},
    std::os::unix::fs::{PermissionsExt, symlink},
    std::path::{Path, PathBuf},
    std::process::{Child, Command, Stdio},
    std::sync::OnceLock,
};

mod apply;
mod cloud_armor;
mod cluster;
mod cmek;
mod database;
mod destroy;
mod fakes;
mod gateway;
mod iap;
mod image;
mod keys;
mod kubernetes;
mod org_policy;
mod ownership;
mod peering;
mod plan;
mod preflight;
mod private_database;
mod record;
mod resume;
mod secrets;
