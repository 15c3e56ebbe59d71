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

/// One stack file parsed, validated and planned: its diagnostics, and its plan when it has
/// no error. `check` and `build` of several stacks compare the plans' [`claims`] before
/// they emit, so that each file is read and planned once.
pub struct Planned {
    diagnostics: Diagnostics,
    plan: Option<plan::Plan>,
}

/// Parse, validate and plan one stack file, without emitting. Never panics on any input.
#[must_use]
pub fn plan_stack(source: &Source) -> Planned {
    let mut diagnostics = Diagnostics::default();
    let parsed = parse::parse(source, &mut diagnostics);
    let plan = match validate::validate(source, &parsed, &mut diagnostics) {
        Some(stack) if !diagnostics.has_errors() => Some(plan::Plan::new(&stack)),
        _ => None,
    };
    diagnostics.sort();
    Planned { diagnostics, plan }
}

impl Planned {
    /// What the stack takes in the cloud and its cluster ([`claims::claims`]), or `None`
    /// when it has errors.
    #[must_use]
    pub fn claims(&self) -> Option<Vec<claims::Claim>> {
        self.plan.as_ref().map(claims::claims)
    }

    /// The diagnostics, and what `output` asks for of the bundle of SOURCE, the file it
    /// was planned from.
    #[must_use]
    pub fn compile(&self, source: &Source, output: Output) -> Compiled {
        let bundle = self.plan.as_ref().and_then(|plan| match output {
            Output::Diagnostics => None,
            Output::Manifests => Some(emit::manifests(plan, source.file_name())),
            Output::Bundle => Some(emit::emit(plan, source.file_name())),
        });
        Compiled {
            diagnostics: self.diagnostics.clone(),
            bundle,
        }
    }
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
    plan_stack(source).compile(source, output)
}
