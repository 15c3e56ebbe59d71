//! The bundle's `README.md`: what it creates, how to apply it, and a Mermaid diagram of
//! this stack, drawn from the plan.

use super::script;
use crate::plan::Plan;

#[must_use]
pub fn readme(plan: &Plan, header: &str) -> String {
    format!(
        "<!-- {header} -->\n\n{}",
        script::render("README.md.j2", plan)
    )
}
