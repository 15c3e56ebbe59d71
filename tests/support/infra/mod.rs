//! The harness of the `infra.sh` tests (`tests/infra/`): each runs a bundle's `infra.sh`
//! for real, against fake `gcloud`, `gsutil`, `kubectl` and `openssl` (`tests/fakes/`).
//! The fakes keep the state of one pretend project and cluster, so that `describe` answers
//! "exists" only after `create`, and they refuse what the real services refuse: an API that
//! is not enabled, a database before its instance, a binding for a service account that
//! does not exist, Workload Identity before a cluster, kubectl before the cluster's
//! credentials, a flag gcloud does not know. An `apply` that succeeds on an empty project
//! therefore also proves the order of its steps.
//!
//! Each test runs the bundle's `infra.sh` in a sandbox: `PATH` holds only the fakes, bash
//! and the few coreutils the script uses; `HOME` is empty; stdin is not a terminal; the
//! environment names another project in `CLOUDSDK_CORE_PROJECT`, which the script must
//! override. Every call lands in `state/calls.jsonl`; the transcript of a run (the calls
//! interleaved with the script's output) is what the `infra@STACK` snapshots show.
//! `destroy`'s confirmation prompt is answered on a pseudo-terminal (`tests/fakes/terminal.py`).
//! The fakes in `PATH` are one small compiled client (`tests/fakes/client.rs`) that hands
//! each call to the sandbox's long-running `fakecloud.py serve`: a call costs a millisecond
//! where starting Python for each took tens.
//!
//! - [`fakes`]: the fakes' client and server, and the system tools beside them.
//! - [`stacks`]: the stack files the scenarios run, and changed copies of them.
//! - [`sandbox`]: a bundle with its own fake project; runs `infra.sh`, reads and changes
//!   the project behind its back.
//! - [`run`]: what one run printed and called, and the assertions tests share.
//! - [`expected`]: what the project must hold after `apply` and each `destroy`: the oracle.

mod expected;
mod fakes;
mod run;
mod sandbox;
mod stacks;

pub use expected::*;
pub use fakes::*;
pub use run::*;
pub use sandbox::*;
pub use stacks::*;
