//! mlflow-stack: compile a TOML stack file into a bundle (Kubernetes YAML, `infra.sh`,
//! the server image) for an MLflow tracking server on Google Cloud.
//!
//! The pipeline, one stage per module:
//! `source` → [`parse`] → [`raw`] → [`validate`] → [`model`] → [`plan`] → [`emit`] → [`write`].
//! Validation and planning take every derived name from [`names`].

pub mod claims;
pub mod cli;
pub mod diag;
pub mod emit;
pub mod encoding;
pub mod explain;
pub mod init;
pub mod layout;
pub mod lock;
pub mod model;
pub mod names;
pub mod parse;
pub mod plan;
pub mod printable;
pub mod problem;
pub mod raw;
pub mod read;
pub mod run;
pub mod schema;
pub mod shell;
pub mod source;
pub mod suggest;
pub mod validate;
pub mod write;

use diag::Diagnostics;
use source::Source;

/// Everything one stack file compiles to, or the diagnostics that stopped it.
pub struct Compiled {
    /// Warnings and errors, in source order.
    pub diagnostics: Diagnostics,
    /// The bundle, when there was no error.
    pub bundle: Option<emit::Bundle>,
}

/// What one stack file takes in the cloud and its cluster ([`claims::claims`]), or `None`
/// when it has errors: parse, validate and plan, without emitting.
#[must_use]
pub fn claims(source: &Source) -> Option<Vec<claims::Claim>> {
    let mut diagnostics = Diagnostics::default();
    let parsed = parse::parse(source, &mut diagnostics);
    let stack = validate::validate(source, &parsed, &mut diagnostics)?;
    if diagnostics.has_errors() {
        return None;
    }
    Some(claims::claims(&plan::Plan::new(&stack)))
}

/// Parse, validate, plan and emit one stack file. Never panics on any input.
#[must_use]
pub fn compile(source: &Source) -> Compiled {
    compile_for(source, Output::Bundle)
}

/// What a command needs of a stack besides its diagnostics: `check` nothing, `manifests`
/// the Kubernetes files, everything else the whole bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Diagnostics,
    Manifests,
    Bundle,
}

/// [`compile`], emitting only what `output` asks for: with [`Output::Diagnostics`] the
/// bundle is `None`, with [`Output::Manifests`] it holds `kubernetes/` only.
#[must_use]
pub fn compile_for(source: &Source, output: Output) -> Compiled {
    let mut diagnostics = Diagnostics::default();
    let parsed = parse::parse(source, &mut diagnostics);
    let stack = validate::validate(source, &parsed, &mut diagnostics);
    let bundle = match stack {
        Some(stack) if !diagnostics.has_errors() => {
            let plan = plan::Plan::new(&stack);
            match output {
                Output::Diagnostics => None,
                Output::Manifests => Some(emit::manifests(&plan, source.file_name())),
                Output::Bundle => Some(emit::emit(&plan, source.file_name())),
            }
        }
        _ => None,
    };
    diagnostics.sort();
    Compiled {
        diagnostics,
        bundle,
    }
}
