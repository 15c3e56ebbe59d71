//! `infra.sh`, rendered from `templates/infra.sh.j2`: a prelude, one template per step of
//! the plan (`templates/infra/steps/STEP.sh.j2`) and the command loop. Every `{{ }}` goes
//! through [`shell_formatter`], so a value reaches the script only as a quoted shell word.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Serde, Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior};

use super::k8s::PASSWORD_KEY;
use crate::plan::steps::{Destroy, Step};
use crate::plan::{KEY_FILE, Plan};
use crate::shell;

const DOCKERFILE: &str = include_str!("../templates/Dockerfile.j2");
const README: &str = include_str!("../templates/README.md.j2");

/// `infra.sh`: a prelude (settings and helpers), one template per step (its `step_*` and
/// `undo_*` functions, from [`Step::template`]; the plan lists the steps a stack has) and
/// the command loop.
const INFRA: [(&str, &str); 5] = [
    ("infra.sh.j2", include_str!("../templates/infra.sh.j2")),
    (
        "infra/prelude.sh.j2",
        include_str!("../templates/infra/prelude.sh.j2"),
    ),
    (
        "infra/main.sh.j2",
        include_str!("../templates/infra/main.sh.j2"),
    ),
    (
        "infra/org-policy.sh.j2",
        include_str!("../templates/infra/org-policy.sh.j2"),
    ),
    (
        "infra/private-database.sh.j2",
        include_str!("../templates/infra/private-database.sh.j2"),
    ),
];

/// Every template of `infra.sh`, by name: the script's own and each step's.
pub fn infra_templates() -> impl Iterator<Item = (&'static str, &'static str)> {
    INFRA
        .into_iter()
        .chain(Step::ALL.iter().map(|step| step.template()))
}

/// The template environment: shell escaping for `*.sh.j2` and `Dockerfile.j2`, none for
/// Markdown; undefined values are errors, not empty strings.
///
/// # Panics
///
/// Only when an embedded template is broken, which every test run would show.
#[must_use]
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Bash's `${#array[@]}` would open a Jinja comment; templates have no comments.
    let syntax = SyntaxConfig::builder()
        .comment_delimiters("{#jinja#", "#jinja#}")
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .unwrap_or_else(|error| unreachable!("default delimiters: {error}"));
    env.set_syntax(syntax);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".md.j2") {
            AutoEscape::None
        } else {
            AutoEscape::Custom("shell".into())
        }
    });
    env.set_formatter(shell_formatter);
    // A step template guards what `destroy` keeps with `{% if step is kept_unless_… %}`.
    env.add_test("kept_unless_delete_data", |step: &str| {
        destroys(step, Destroy::KeptUnlessDeleteData)
    });
    env.add_test("kept_unless_delete_cluster", |step: &str| {
        destroys(step, Destroy::KeptUnlessDeleteCluster)
    });
    // A template is compiled when a render first asks for it, then kept: `build` compiles
    // the few a plan's steps include, and `check` and `manifests` none. The templates are
    // part of the binary; a syntax error in one fails a test of every template.
    env.set_loader(|name| Ok(template_source(name)));
    env
}

/// Every embedded template: its name and source.
fn templates() -> impl Iterator<Item = (&'static str, &'static str)> {
    let others = [("Dockerfile.j2", DOCKERFILE), ("README.md.j2", README)];
    let readme_steps = Step::ALL.iter().map(|step| step.readme());
    infra_templates().chain(others).chain(readme_steps)
}

/// The embedded source of a template, by name.
fn template_source(name: &str) -> Option<&'static str> {
    templates()
        .find(|(known, _)| *known == name)
        .map(|(_, source)| source)
}

/// Whether `destroy` does this with the step named STEP.
fn destroys(step: &str, what: Destroy) -> bool {
    Step::named(step).is_some_and(|step| step.destroy() == what)
}

/// The [`environment`] of this process, built on first use; its templates are compiled
/// once per process, when first rendered (compiling costs more than rendering, and `build`
/// renders three per stack, for every stack).
#[must_use]
pub fn shared() -> &'static Environment<'static> {
    static SHARED: LazyLock<Environment<'static>> = LazyLock::new(environment);
    &SHARED
}

/// Writes a value as shell words: a string is one quoted word, a sequence is its items
/// as quoted words separated by spaces, numbers and booleans are written as they are.
pub fn shell_formatter(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    // No `| safe` escape hatch: in a shell template every value is quoted.
    if *state.auto_escape() == AutoEscape::None {
        return write!(out, "{value}").map_err(Error::from);
    }
    let text = match value.kind() {
        ValueKind::Seq => {
            let mut words = Vec::new();
            for item in value.try_iter()? {
                words.push(word(&item)?);
            }
            words.join(" ")
        }
        _ => word(value)?,
    };
    out.write_str(&text).map_err(Error::from)
}

fn word(value: &Value) -> Result<String, Error> {
    match value.kind() {
        ValueKind::String => Ok(shell::quote(value.as_str().unwrap_or_default())),
        ValueKind::Number | ValueKind::Bool => Ok(value.to_string()),
        kind => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("a {kind} value cannot be written into a shell script"),
        )),
    }
}

/// The plan as template values: every part's fields, as the templates read them. It is made
/// once per bundle, for `infra.sh` and the README alike (the conversion costs as much as a
/// render of its own).
#[must_use]
pub fn plan_values(plan: &Plan) -> Value {
    Value::from(Serde(plan))
}

/// Renders one of the embedded templates with the plan (its [`plan_values`]) as its context.
///
/// # Panics
///
/// Only when an embedded template is broken, which every test run would show.
#[must_use]
pub fn render(template: &str, plan: &Plan, values: &Value) -> String {
    let step_templates: BTreeMap<Step, &'static str> = plan
        .infra
        .steps
        .iter()
        .map(|step| (*step, step.template().0))
        .collect();
    let context = minijinja::context! {
        password_key => PASSWORD_KEY,
        key_file => KEY_FILE,
        step_templates => Value::from(Serde(&step_templates)),
        ..values.clone()
    };
    shared()
        .get_template(template)
        .and_then(|t| t.render(context))
        .unwrap_or_else(|error| panic!("rendering {template}: {error:#}"))
}

#[must_use]
pub fn infra(plan: &Plan, values: &Value, header: &str) -> String {
    format!(
        "#!/usr/bin/env bash\n# {header}\n{}",
        render("infra.sh.j2", plan, values)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_interpolation_is_shell_quoted() {
        let env = environment();
        let hostile = "x'; rm -rf / #$(id)`id`\n";
        let rendered = env
            .render_named_str(
                "t.sh.j2",
                "echo {{ v }} {{ list }} {{ n }}",
                minijinja::context! {
                    v => hostile, list => vec!["a b", "c"], n => 3,
                },
            )
            .unwrap();
        assert_eq!(rendered, "echo 'x'\\''; rm -rf / #$(id)`id`\n' 'a b' c 3");
        let out = std::process::Command::new("bash")
            .args([
                "-c",
                &format!("printf '%s|' {}", &rendered["echo ".len()..]),
            ])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("{hostile}|a b|c|3|")
        );
    }

    /// Templates are compiled on first use: every embedded one must compile.
    #[test]
    fn every_template_compiles() {
        let env = environment();
        for (name, _) in templates() {
            if let Err(error) = env.get_template(name) {
                panic!("template {name}: {error:#}");
            }
        }
        assert!(env.get_template("infra/steps/nothing.sh.j2").is_err());
    }

    #[test]
    fn a_template_is_compiled_when_first_asked_for_and_kept() {
        let env = environment();
        assert_eq!(env.templates().count(), 0);
        env.get_template("Dockerfile.j2").unwrap();
        env.get_template("Dockerfile.j2").unwrap();
        let compiled: Vec<&str> = env.templates().map(|(name, _)| name).collect();
        assert_eq!(compiled, ["Dockerfile.j2"]);
    }

    #[test]
    fn maps_cannot_be_interpolated() {
        let env = environment();
        let result = env.render_named_str(
            "t.sh.j2",
            "{{ m }}",
            minijinja::context! { m => minijinja::context! { a => 1 } },
        );
        assert!(result.is_err());
    }

    #[test]
    fn undefined_values_are_errors() {
        let env = environment();
        assert!(
            env.render_named_str("t.sh.j2", "{{ missing }}", ())
                .is_err()
        );
    }
}
