//! Cloud Armor on an external gateway: `expose.allow` (a Cloud Armor allow list there),
//! `expose.waf` and `expose.rate_limit`, and the rules that keep them to an external
//! gateway, where Cloud Armor's IP rules, preconfigured WAF rules and rate limiting apply
//! (the feature table of <https://cloud.google.com/armor/docs/common-use-cases>: external
//! Application Load Balancers; an internal gateway, `gke-l7-rilb`, is a regional internal
//! one).

use std::collections::BTreeSet;

use super::Validator;
use crate::diag::{Code, Diagnostic, shown};
use crate::model::{ExposeScope, ExposeType};
use crate::problem::{Checked, Problem, string_newtype};
use crate::raw::{self, Spanned};

/// The categories of Cloud Armor's preconfigured WAF rules
/// (<https://cloud.google.com/armor/docs/waf-rules>).
const WAF_CATEGORIES: &[&str] = &[
    "sqli",
    "xss",
    "lfi",
    "rfi",
    "rce",
    "methodenforcement",
    "scannerdetection",
    "protocolattack",
    "php",
    "sessionfixation",
    "java",
    "nodejs",
];

/// The rule sets each category is offered in: OWASP CRS 3.3 and CRS 4.22, each as a stable
/// and a canary version (<https://cloud.google.com/armor/docs/waf-rules>).
const WAF_VERSIONS: &[&str] = &["v33-stable", "v33-canary", "v422-stable", "v422-canary"];

/// The most `allow` ranges an external gateway takes: Cloud Armor matches at most 10 source
/// ranges per rule (`srcIpRanges`,
/// <https://cloud.google.com/compute/docs/reference/rest/v1/securityPolicies>), so 100
/// ranges are 10 rules. A longer list belongs in a named address group, which this tool
/// does not manage.
pub const MAX_GATEWAY_RANGES: usize = 100;

/// The highest `rate_limit`, requests per minute per client address: far above what one
/// person's browser or a training job sends to a tracking server.
pub const MAX_RATE_LIMIT: i64 = 100_000;

/// Every WAF rule name Cloud Armor documents, `CATEGORY-VERSION`.
#[must_use]
pub fn waf_rule_names() -> Vec<String> {
    WAF_CATEGORIES
        .iter()
        .flat_map(|category| {
            WAF_VERSIONS
                .iter()
                .map(move |version| format!("{category}-{version}"))
        })
        .collect()
}

string_newtype!(
    /// A preconfigured WAF rule of Cloud Armor, by its own name, e.g. `sqli-v422-stable`:
    /// one of the twelve categories in a version Cloud Armor documents
    /// (<https://cloud.google.com/armor/docs/waf-rules>). `evaluatePreconfiguredWaf` takes it
    /// in single quotes: its characters are letters, digits and `-` only.
    WafRule
);

impl WafRule {
    pub fn parse(value: &str) -> Checked<Self> {
        let names = waf_rule_names();
        if names.iter().any(|name| name == value) {
            return Ok(Self(value.to_owned()));
        }
        let lower = value.to_ascii_lowercase();
        let help = if names.contains(&lower) {
            format!("did you mean `{lower}`? Cloud Armor's rule names are lowercase")
        } else if let Some(category) = WAF_CATEGORIES.iter().find(|c| **c == lower) {
            format!(
                "name a version of the rule: `{category}-v422-stable` (OWASP CRS 4.22) or \
                 `{category}-v33-stable` (CRS 3.3), or their `-canary` versions"
            )
        } else if let Some(close) = crate::suggest::closest(value, names.iter().map(String::as_str))
        {
            format!("did you mean `{close}`?")
        } else {
            format!(
                "use a rule Cloud Armor documents: one of {} followed by `-v422-stable`, \
                 `-v422-canary`, `-v33-stable` or `-v33-canary`, e.g. `sqli-v422-stable` \
                 (https://cloud.google.com/armor/docs/waf-rules)",
                WAF_CATEGORIES
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        Err(Problem::new(
            Code::UnknownWafRule,
            format!(
                "`expose.waf`: Cloud Armor has no preconfigured WAF rule `{}`",
                shown(value)
            ),
        )
        .label("no such rule")
        .help(help))
    }
}

/// What an external gateway's Cloud Armor policy is made of, besides `allow`.
#[derive(Debug, Clone, Default)]
pub struct Armor {
    pub waf: Vec<WafRule>,
    pub rate_limit: Option<u32>,
}

impl Validator<'_> {
    /// `expose.waf` and `expose.rate_limit` of a gateway of SCOPE, and `allow` there: all
    /// three apply to an external gateway only. `Err(())` when a rule failed (reported).
    pub(super) fn armor(&mut self, raw: &raw::Expose, scope: ExposeScope) -> Result<Armor, ()> {
        if scope == ExposeScope::Internal {
            let mut failed = false;
            for (key, span) in [
                (
                    "allow",
                    raw.allow
                        .as_ref()
                        .filter(|a| !a.value.is_empty())
                        .map(|f| f.key.clone()),
                ),
                ("waf", raw.waf.as_ref().map(|f| f.key.clone())),
                ("rate_limit", raw.rate_limit.as_ref().map(|f| f.key.clone())),
            ] {
                let Some(span) = span else { continue };
                self.push(
                    Diagnostic::error(
                        Code::NotApplicable,
                        span,
                        format!("`expose.{key}` applies to an external gateway, not an internal one"),
                    )
                    .label("no Cloud Armor on an internal gateway")
                    .help(
                        "Cloud Armor's IP rules, WAF rules and rate limiting protect external \
                         Application Load Balancers (https://cloud.google.com/armor/docs/common-use-cases); \
                         an internal gateway is a regional internal one, reached from inside the \
                         VPC only, and from the cluster's region only unless `global_access = true`: \
                         remove the key and limit who reaches the VPC with firewall rules, or set \
                         `scope = \"external\"`",
                    ),
                );
                failed = true;
            }
            return if failed {
                Err(())
            } else {
                Ok(Armor::default())
            };
        }
        let mut failed = false;
        if let Some(field) = &raw.allow
            && field.value.len() > MAX_GATEWAY_RANGES
        {
            self.push(
                Diagnostic::error(
                    Code::TooManyRanges,
                    field.span.clone(),
                    format!(
                        "`expose.allow` lists {} ranges; a gateway's Cloud Armor policy takes at most {MAX_GATEWAY_RANGES}",
                        field.value.len()
                    ),
                )
                .label("too many ranges")
                .help(format!(
                    "Cloud Armor matches at most 10 ranges per rule, so {MAX_GATEWAY_RANGES} ranges are 10 rules: \
                     merge adjacent ranges into wider blocks (two /25 into one /24), or leave \
                     `allow` out and let `[auth]` decide who gets in"
                )),
            );
            failed = true;
        }
        let waf = self.waf_rules(raw.waf.as_ref());
        let rate_limit = match &raw.rate_limit {
            Some(field) => {
                let limit = self.range(
                    "expose.rate_limit",
                    Some(field),
                    1..MAX_RATE_LIMIT + 1,
                    "requests per minute per client IP address, e.g. `rate_limit = 600` (10 a \
                     second)",
                );
                if limit.is_none() {
                    failed = true;
                }
                limit
            }
            None => None,
        };
        if failed
            || waf.is_none()
            || (raw.rate_limit.is_none() && self.parsed.has("expose.rate_limit"))
        {
            return Err(());
        }
        Ok(Armor {
            waf: waf.unwrap_or_default(),
            rate_limit,
        })
    }

    /// `expose.waf`: each a rule Cloud Armor documents, none twice. `None` when one failed.
    fn waf_rules(&mut self, field: Option<&Spanned<Vec<Spanned<String>>>>) -> Option<Vec<WafRule>> {
        if field.is_none() && self.parsed.has("expose.waf") {
            return None;
        }
        let mut rules = Vec::new();
        let mut seen = BTreeSet::new();
        let mut failed = false;
        for name in field.iter().flat_map(|f| &f.value) {
            let Some(rule) = self.check("expose.waf", Some(name), WafRule::parse) else {
                failed = true;
                continue;
            };
            if !seen.insert(rule.to_string()) {
                self.push(
                    Diagnostic::error(
                        Code::DuplicateWafRule,
                        name.span.clone(),
                        format!("`expose.waf` lists `{rule}` twice"),
                    )
                    .label("listed already")
                    .help("each rule is one Cloud Armor rule of the policy: remove the second one"),
                );
                failed = true;
                continue;
            }
            rules.push(rule);
        }
        (!failed).then_some(rules)
    }

    /// Reports `waf` and `rate_limit` under an exposure that is no gateway.
    pub(super) fn armor_gateway_only(&mut self, raw: &raw::Expose, kind: ExposeType) {
        for (key, span) in [
            ("waf", raw.waf.as_ref().map(|f| f.key.clone())),
            ("rate_limit", raw.rate_limit.as_ref().map(|f| f.key.clone())),
        ] {
            let Some(span) = span else { continue };
            self.push(
                Diagnostic::error(
                    Code::ConflictingOptions,
                    span,
                    format!("`expose.{key}` applies to an external gateway"),
                )
                .label(format!(
                    "unused with `type = \"{}\"`",
                    crate::raw::Choice::as_str(kind)
                ))
                .help(format!(
                    "Cloud Armor sits in front of an external Application Load Balancer: set \
                     `type = \"gateway\"` with `host`, or remove `{key}`"
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Code, WafRule, waf_rule_names};

    #[test]
    fn waf_rules_are_the_documented_names() {
        let names = waf_rule_names();
        assert_eq!(names.len(), 48);
        for good in ["sqli-v33-stable", "xss-v422-canary", "nodejs-v422-stable"] {
            assert!(WafRule::parse(good).is_ok(), "{good}");
        }
        for (bad, help) in [
            ("sqli-v33-stabel", "did you mean `sqli-v33-stable`?"),
            ("SQLI-V33-STABLE", "did you mean `sqli-v33-stable`?"),
            ("xss", "`xss-v422-stable`"),
            ("sqli-v30-stable", "did you mean"),
            ("nosuchrule", "use a rule Cloud Armor documents"),
        ] {
            let problem = WafRule::parse(bad).unwrap_err();
            assert_eq!(problem.code, Code::UnknownWafRule, "{bad}");
            assert!(problem.help.contains(help), "{bad}: {}", problem.help);
        }
    }
}
