//! `infra.sh` run for real, against fake `gcloud`, `gsutil`, `kubectl` and `openssl`, one
//! module a topic. The harness (the fakes, the sandbox, a run, the expected state) is
//! `tests/support/infra/`; a topic module takes it, and the names the tests use most, with
//! `use super::*;`.
#![cfg(unix)]

#[allow(unused_imports)]
use {
    crate::support::infra::*,
    crate::support::{TempDir, compile_file, repo, snapshot_settings, stack_files},
    mlflow_stack::emit::readme::ReadmeFacts,
    mlflow_stack::plan::Plan,
    serde_json::{Value, json},
    std::collections::BTreeSet,
    std::fs,
    std::os::unix::fs::{PermissionsExt, symlink},
    std::path::{Path, PathBuf},
    std::process::{Command, Stdio},
};

mod apply;
mod cluster;
mod database;
mod destroy;
mod fakes;
mod gateway;
mod image;
mod keys;
mod kubernetes;
mod ownership;
mod plan;
mod preflight;
mod record;
mod resume;
mod secrets;
