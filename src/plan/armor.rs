//! The Cloud Armor security policy of an external gateway, planned: its name and its rules
//! in the order Cloud Armor evaluates them: the highest-priority (lowest number) matching
//! rule's action is taken, no other rule is evaluated
//! (<https://cloud.google.com/armor/docs/create-security-policy-rules>).
//!
//! - The preconfigured WAF rules (`expose.waf`), from priority 1000: each answers 403 to
//!   what it matches, `evaluatePreconfiguredWaf('NAME', {'sensitivity': 1})`
//!   (<https://cloud.google.com/armor/docs/configure-waf>); sensitivity 1 enables only the
//!   signatures with the fewest false positives.
//! - From priority 2000, the allow list (`expose.allow`), 10 ranges a rule (the most one
//!   rule's `srcIpRanges` takes). With `rate_limit` these rules throttle instead of allow: a
//!   throttle rule's conform action `allow` ends the evaluation, so the throttle must carry
//!   the allowed ranges itself
//!   (<https://cloud.google.com/armor/docs/configure-rate-limiting>).
//!   Without an allow list, one throttle rule matches every address (`*`).
//! - The default rule (priority 2147483647, which every policy has): `deny(403)` with an
//!   allow list, `allow` without one.

use serde::Serialize;

use crate::model::{DnsLabel, Expose};

/// The priority of the default rule, which matches every request and cannot be deleted.
pub const DEFAULT_PRIORITY: u32 = 2_147_483_647;
/// The priority of the first WAF rule.
const FIRST_WAF_PRIORITY: u32 = 1000;
/// The priority of the first allow (or throttle) rule.
const FIRST_SOURCE_PRIORITY: u32 = 2000;
/// The most source ranges one rule matches (`srcIpRanges`,
/// <https://cloud.google.com/compute/docs/reference/rest/v1/securityPolicies>).
pub const RANGES_PER_RULE: usize = 10;
/// The throttle's interval: `rate_limit` counts requests per minute.
pub const RATE_LIMIT_INTERVAL_SEC: u32 = 60;
/// The sensitivity of the WAF rules: 1, only the signatures with the highest confidence
/// (<https://cloud.google.com/armor/docs/rule-tuning>).
pub const WAF_SENSITIVITY: u32 = 1;

/// The security policy and its rules.
#[derive(Debug, Clone, Serialize)]
pub struct ArmorPlan {
    /// The policy, global like the external gateway's backend service.
    pub policy: String,
    /// Every rule but the default one, by priority.
    pub rules: Vec<ArmorRule>,
    /// The priority of the default rule, which every policy has.
    pub default_priority: u32,
    /// The default rule's action, as the API writes it (`allow`, `deny(403)`).
    pub default_action: &'static str,
    /// The same, as `gcloud --action` takes it (`allow`, `deny-403`).
    pub default_action_flag: &'static str,
    /// What the policy is made of, for the README.
    pub allow: Vec<String>,
    pub waf: Vec<String>,
    pub rate_limit: Option<u32>,
    pub waf_sensitivity: u32,
    /// `--format` of the read of the rules: [`RULE_FIELDS`] as `value(...)`.
    pub rule_format: String,
}

/// One rule of the policy.
#[derive(Debug, Clone, Serialize)]
pub struct ArmorRule {
    pub priority: u32,
    /// The flags of `rules create` and `rules update` that make the rule.
    pub flags: Vec<String>,
    /// What the rule does, in words (its `description`, at most 64 characters, and
    /// `plan`'s line).
    pub description: String,
    /// Whether its action is `throttle` (a rule that changes to or from one is replaced).
    pub throttle: bool,
    /// The rule as `describe --flatten=rules` prints it in [`RULE_FIELDS`], the fields
    /// joined by `|`: the script compares the policy's rules with these.
    pub canonical: String,
}

/// The fields of a rule `infra.sh` reads (`--format=value(...)` with `--flatten=rules`), in
/// the order of [`ArmorRule::canonical`].
pub const RULE_FIELDS: &[&str] = &[
    "rules.priority",
    "rules.action",
    "rules.match.config.srcIpRanges",
    "rules.match.expr.expression",
    "rules.rateLimitOptions.rateLimitThreshold.count",
    "rules.rateLimitOptions.rateLimitThreshold.intervalSec",
    "rules.rateLimitOptions.conformAction",
    "rules.rateLimitOptions.exceedAction",
    "rules.rateLimitOptions.enforceOnKey",
];

/// What a rule does with what it matches.
#[derive(Clone, Copy)]
enum Action {
    Allow,
    Deny403,
    Throttle,
}

impl Action {
    /// As the API writes it (`describe`).
    const fn api(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny403 => "deny(403)",
            Action::Throttle => "throttle",
        }
    }

    /// As `gcloud ... --action` takes it.
    const fn flag(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny403 => "deny-403",
            Action::Throttle => "throttle",
        }
    }
}

/// What a rule matches.
enum Match<'a> {
    Ranges(&'a [String]),
    Expression(String),
}

impl ArmorRule {
    fn new(priority: u32, matches: &Match, rate_limit: Option<u32>, description: String) -> Self {
        let action = match (matches, rate_limit) {
            (_, Some(_)) => Action::Throttle,
            (Match::Ranges(_), None) => Action::Allow,
            (Match::Expression(_), None) => Action::Deny403,
        };
        let mut flags = vec![format!("--action={}", action.flag())];
        let (ranges, expression) = match matches {
            Match::Ranges(ranges) => {
                flags.push(format!("--src-ip-ranges={}", ranges.join(",")));
                (ranges.join(";"), String::new())
            }
            Match::Expression(expression) => {
                flags.push(format!("--expression={expression}"));
                (String::new(), expression.clone())
            }
        };
        let mut canonical = vec![
            priority.to_string(),
            action.api().to_owned(),
            ranges,
            expression,
        ];
        if let Some(count) = rate_limit {
            flags.extend([
                format!("--rate-limit-threshold-count={count}"),
                format!("--rate-limit-threshold-interval-sec={RATE_LIMIT_INTERVAL_SEC}"),
                "--conform-action=allow".to_owned(),
                "--exceed-action=deny-429".to_owned(),
                "--enforce-on-key=IP".to_owned(),
            ]);
            canonical.extend([
                count.to_string(),
                RATE_LIMIT_INTERVAL_SEC.to_string(),
                "allow".to_owned(),
                "deny(429)".to_owned(),
                "IP".to_owned(),
            ]);
        } else {
            canonical.extend(std::iter::repeat_n(String::new(), 5));
        }
        flags.push(format!("--description={description}"));
        Self {
            priority,
            flags,
            description,
            throttle: rate_limit.is_some(),
            canonical: canonical.join("|"),
        }
    }
}

impl ArmorPlan {
    /// The policy of an external gateway with an allow list, WAF rules or a rate limit;
    /// `None` without any of them (no policy at all) or for another exposure.
    #[must_use]
    pub fn new(expose: &Expose, name: &DnsLabel) -> Option<Self> {
        let gateway = expose.gateway.as_ref()?;
        let allow: Vec<String> = expose.allow.iter().map(ToString::to_string).collect();
        if allow.is_empty() && gateway.waf.is_empty() && gateway.rate_limit.is_none() {
            return None;
        }
        let mut rules = Vec::new();
        for (priority, rule) in (FIRST_WAF_PRIORITY..).zip(&gateway.waf) {
            let expression =
                format!("evaluatePreconfiguredWaf('{rule}', {{'sensitivity': {WAF_SENSITIVITY}}})");
            rules.push(ArmorRule::new(
                priority,
                &Match::Expression(expression),
                None,
                format!("WAF {rule}: 403"),
            ));
        }
        let everyone = ["*".to_owned()];
        let chunks: Vec<&[String]> = if allow.is_empty() {
            gateway
                .rate_limit
                .map(|_| everyone.as_slice())
                .into_iter()
                .collect()
        } else {
            allow.chunks(RANGES_PER_RULE).collect()
        };
        let count = chunks.len();
        for (index, (priority, ranges)) in (FIRST_SOURCE_PRIORITY..).zip(chunks).enumerate() {
            let part = if count > 1 {
                format!(" ({} of {count})", index + 1)
            } else {
                String::new()
            };
            let description = match gateway.rate_limit {
                Some(limit) if allow.is_empty() => {
                    format!("every address: {limit} requests a minute each, then 429")
                }
                Some(limit) => {
                    format!("allow list{part}: {limit} requests a minute each, then 429")
                }
                None => format!("allow list{part}"),
            };
            rules.push(ArmorRule::new(
                priority,
                &Match::Ranges(ranges),
                gateway.rate_limit,
                description,
            ));
        }
        let default = if allow.is_empty() {
            Action::Allow
        } else {
            Action::Deny403
        };
        Some(Self {
            policy: format!("{name}-armor"),
            rules,
            default_priority: DEFAULT_PRIORITY,
            default_action: default.api(),
            default_action_flag: default.flag(),
            allow,
            waf: gateway.waf.iter().map(ToString::to_string).collect(),
            rate_limit: gateway.rate_limit,
            waf_sensitivity: WAF_SENSITIVITY,
            rule_format: format!("value({})", RULE_FIELDS.join(",")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{ArmorPlan, RANGES_PER_RULE};
    use crate::diag::Diagnostics;
    use crate::source::Source;

    fn plan_of(expose: &str) -> ArmorPlan {
        let text = format!(
            "project = \"acme-ml-prod\"\nregion = \"europe-west3\"\nbucket = \"acme-ml-prod-mlflow\"\n\
             tag = \"1.0.0\"\nenvironment = \"gke\"\n\n[expose]\ntype = \"gateway\"\n\
             host = \"mlflow.acme.example\"\n{expose}\n\n[auth]\nkind = \"basic\"\n"
        );
        let source = Source::new("armor.toml", text);
        let mut diagnostics = Diagnostics::default();
        let parsed = crate::parse::parse(&source, &mut diagnostics);
        let stack = crate::validate::validate(&source, &parsed, &mut diagnostics)
            .unwrap_or_else(|| panic!("{diagnostics:?}"));
        ArmorPlan::new(&stack.expose, &stack.name).unwrap()
    }

    /// Cloud Armor takes a rule description of at most 64 characters
    /// (<https://cloud.google.com/armor/docs/best-practices>): the longest the plan writes
    /// fits, with the most ranges, the highest rate limit and the longest WAF rule name.
    #[test]
    fn rule_descriptions_fit_cloud_armor() {
        let ranges: Vec<String> = (0..100).map(|i| format!("\"10.0.{i}.0/24\"")).collect();
        for expose in [
            format!(
                "allow = [{}]\nwaf = [\"scannerdetection-v422-canary\"]\nrate_limit = 100000",
                ranges.join(", ")
            ),
            "rate_limit = 100000".to_owned(),
            format!("allow = [{}]", ranges.join(", ")),
        ] {
            let plan = plan_of(&expose);
            for rule in &plan.rules {
                assert!(rule.description.len() <= 64, "{:?}", rule.description);
                let flag = rule
                    .flags
                    .iter()
                    .find(|flag| flag.starts_with("--src-ip-ranges="));
                if let Some(flag) = flag {
                    assert!(flag.split(',').count() <= RANGES_PER_RULE, "{flag}");
                }
            }
        }
    }
}
