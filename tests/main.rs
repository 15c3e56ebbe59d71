//! The integration tests: one binary, one module per area.

mod apply;
mod bundle_readme;
mod bundles;
mod ci;
mod cli;
mod diagnostics;
mod gcloud_flags;
mod generative;
mod hostile;
mod infra;
mod operations;
mod support;
mod ux;
