//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::init::{InitEnvironment, PLACEHOLDER_PROJECT};

/// Compile a TOML stack file into a bundle for an MLflow tracking server on Google Cloud:
/// Kubernetes manifests, an infra.sh of gcloud commands, and the server image.
#[derive(Debug, Parser)]
#[command(name = "mlflow-stack", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate stack files; diagnostics go to stderr.
    ///
    /// Every file is checked, in parallel, and every problem in a file is reported. One line
    /// per file (`ok`, or its counts of errors and warnings), then a total; --quiet prints
    /// only the problems. Exit status 1 when any file has an error (or a warning, with
    /// --deny-warnings).
    Check {
        /// Stack files.
        #[arg(required = true, value_name = "STACK")]
        stacks: Vec<PathBuf>,
        #[command(flatten)]
        options: CheckOptions,
    },
    /// Write the bundle of each stack.
    ///
    /// Each stack's bundle is DIR/<file stem>/, however many stacks are given:
    /// `build stacks/prod.toml --out deploy` writes deploy/prod/. Stacks compile in parallel. A stack with an error writes nothing and its previous bundle
    /// stays as it was, while the other stacks still build; the exit status is then 1.
    /// Each bundle is written to a temporary sibling and swapped into place atomically;
    /// concurrent builds into one directory all succeed. A non-empty directory that is not a
    /// bundle of ours, or a bundle directory holding files mlflow-stack did not write, is
    /// never replaced (the files are named). Neither DIR nor a bundle directory in it may be
    /// a symbolic link: pass the target.
    Build {
        /// Stack files.
        #[arg(required = true, value_name = "STACK")]
        stacks: Vec<PathBuf>,
        /// Output directory.
        #[arg(long, short, value_name = "DIR")]
        out: PathBuf,
        /// Write nothing; print a diff and exit 1 when a bundle in DIR is not up to date, or
        /// when DIR holds a bundle whose stack is not among the arguments (an orphan).
        /// Only the bundle's own files are diffed; the same ownership rule as build applies.
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        options: CheckOptions,
    },
    /// Print the Kubernetes manifests of a stack, for review or another tool.
    ///
    /// To apply them, use the bundle's `kubernetes/` directory as its README says:
    /// `KUBECTL_APPLYSET=true kubectl apply --server-side --prune --applyset=NAME-applyset
    /// --namespace=NAMESPACE -k kubernetes/`. Only that ApplySet command records what it
    /// applied, so a later version of the bundle deletes what it no longer has.
    Manifests {
        #[arg(value_name = "STACK")]
        stack: PathBuf,
    },
    /// Print the infra.sh of a stack.
    Infra {
        #[arg(value_name = "STACK")]
        stack: PathBuf,
    },
    /// Print the JSON Schema of the stack file (for editors: `#:schema ./stack.schema.json`).
    Schema,
    /// Write a commented starter stack file; never overwrites a file.
    ///
    /// Values not given are placeholders (project `my-gcp-project`, cluster
    /// `my-gke-cluster`) that `check` warns about until they are replaced.
    Init {
        /// Where to write the stack file.
        #[arg(default_value = "stack.toml", value_name = "PATH")]
        path: PathBuf,
        /// Where the server runs.
        #[arg(long, value_enum, default_value_t = InitEnvironment::Gke)]
        environment: InitEnvironment,
        /// Google Cloud project id.
        #[arg(long, default_value = PLACEHOLDER_PROJECT, value_name = "ID")]
        project: String,
        /// Google Cloud region.
        #[arg(long, default_value = "europe-west3", value_name = "REGION")]
        region: String,
        /// Artifact bucket [default: <project>-mlflow].
        #[arg(long, value_name = "NAME")]
        bucket: Option<String>,
        /// Tag of the server image.
        #[arg(long, default_value = "1.0.0", value_name = "TAG")]
        tag: String,
        /// Name of this MLflow, the prefix of every resource.
        #[arg(long, default_value = "mlflow", value_name = "NAME")]
        name: String,
        /// The GKE cluster to run on (gke only).
        #[arg(long, value_name = "NAME")]
        cluster: Option<String>,
    },
    /// Explain a diagnostic code: what it protects against, an example, and the fix.
    Explain {
        /// A code as diagnostics print it, e.g. `zone-not-region`.
        #[arg(value_name = "CODE", required_unless_present = "list")]
        code: Option<String>,
        /// List every code, with what it is about.
        #[arg(long, conflicts_with = "code")]
        list: bool,
    },
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages: mlflow-stack(1) and one per subcommand, e.g. mlflow-stack-build(1).
    ///
    /// Without DIR, print mlflow-stack(1) on stdout.
    Man {
        /// Directory to write the pages into, e.g. ~/.local/share/man/man1.
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct CheckOptions {
    /// How diagnostics are printed.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Treat warnings as errors (for CI).
    #[arg(long)]
    pub deny_warnings: bool,
    /// Print only problems: no line for a file that is fine, no total when all are.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Rendered diagnostics with source excerpts, on stderr.
    Human,
    /// One JSON object per diagnostic, one per line, on stdout.
    Json,
}
