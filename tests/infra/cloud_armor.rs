//! Cloud Armor on an external gateway (`expose.allow`, `waf`, `rate_limit`,
//! `stacks/armor.toml`): the security policy and its rules as the plan lays them out, kept
//! in line with the stack, an adopted policy left alone with a warning per difference, and
//! destroy deleting only the policy the stack created.

use super::*;

fn policy_key(sandbox: &Sandbox) -> String {
    format!("security-policy {}", policy_name(sandbox))
}

fn policy_name(sandbox: &Sandbox) -> String {
    let gateway = sandbox.plan.gateway.as_ref().unwrap();
    gateway.armor.as_ref().unwrap().policy.clone()
}

/// The rules of the policy in the fake project, by priority.
fn rules(sandbox: &Sandbox) -> Vec<Value> {
    sandbox.resource(&policy_key(sandbox))["rules"]
        .as_array()
        .unwrap()
        .clone()
}

fn waf_rule(priority: u32, name: &str) -> Value {
    json!({
        "priority": priority,
        "action": "deny(403)",
        "description": format!("WAF {name}: 403"),
        "preview": false,
        "match": {"expr": {"expression":
            format!("evaluatePreconfiguredWaf('{name}', {{'sensitivity': 1}})")}},
    })
}

fn throttle_rule(priority: u32, ranges: &[&str], count: u32, description: &str) -> Value {
    json!({
        "priority": priority,
        "action": "throttle",
        "description": description,
        "preview": false,
        "match": {"versionedExpr": "SRC_IPS_V1", "config": {"srcIpRanges": ranges}},
        "rateLimitOptions": {
            "conformAction": "allow",
            "exceedAction": "deny(429)",
            "enforceOnKey": "IP",
            "rateLimitThreshold": {"count": count, "intervalSec": 60},
        },
    })
}

fn default_rule(action: &str) -> Value {
    json!({
        "priority": 2_147_483_647_u32,
        "action": action,
        "description": "default rule",
        "preview": false,
        "match": {"versionedExpr": "SRC_IPS_V1", "config": {"srcIpRanges": ["*"]}},
    })
}

/// The security-policy commands a run made, each without its flags.
fn armor_calls(run: &Run) -> Vec<String> {
    run.mutating()
        .into_iter()
        .filter(|line| line.starts_with("gcloud compute security-policies"))
        .map(|line| line.split(" --").next().unwrap().to_owned())
        .collect()
}

const ALLOW: &[&str] = &["203.0.113.0/24", "198.51.100.0/24"];

/// `plan` on an empty project lists the policy and every rule; `apply` creates exactly
/// them (the WAF rules first, then the throttle on the allow list, then the default rule
/// denies everyone else) and names the policy in the GCPBackendPolicy; a second apply and
/// `plan` change nothing; `destroy` deletes the policy.
#[test]
fn apply_creates_the_planned_policy_and_a_second_apply_changes_nothing() {
    let sandbox = Sandbox::new(&stack("armor"));
    let name = policy_name(&sandbox);

    let planned = sandbox.infra(&["plan"]).ok();
    planned.changed_nothing();
    for line in [
        format!("gcloud compute security-policies create {name} --global --type=CLOUD_ARMOR"),
        format!(
            "gcloud compute security-policies rules create 1000 --security-policy={name} --action=deny-403"
        ),
        "rule 1001: WAF xss-v422-stable: 403".to_owned(),
        format!(
            "gcloud compute security-policies rules create 2000 --security-policy={name} --action=throttle --src-ip-ranges=203.0.113.0/24\\,198.51.100.0/24 --rate-limit-threshold-count=600"
        ),
        "update default rule: allow → deny(403)".to_owned(),
        format!(
            "gcloud compute security-policies rules update 2147483647 --security-policy={name} --action=deny-403"
        ),
    ] {
        assert!(planned.stdout.contains(&line), "{line}\n{}", planned.stdout);
    }

    let run = sandbox.infra(&["apply"]).ok();
    assert_eq!(run.results(), sandbox.created(), "{}", run.stdout);
    let policy = sandbox.resource(&policy_key(&sandbox));
    assert_eq!(policy["type"], "CLOUD_ARMOR");
    assert!(
        policy["description"]
            .as_str()
            .unwrap()
            .contains(&format!("mlflow-stack-id={}", sandbox.plan.names.stack_id))
    );
    assert_eq!(
        rules(&sandbox),
        [
            waf_rule(1000, "sqli-v422-stable"),
            waf_rule(1001, "xss-v422-stable"),
            throttle_rule(
                2000,
                ALLOW,
                600,
                "allow list: 600 requests a minute each, then 429"
            ),
            default_rule("deny(403)"),
        ]
    );
    // The allow list is in place before everyone else is denied.
    let mutating = run.mutating();
    let at = |prefix: &str| {
        mutating
            .iter()
            .position(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {mutating:#?}"))
    };
    assert!(
        at("gcloud compute security-policies rules create 2000")
            < at("gcloud compute security-policies rules update 2147483647")
    );
    let policy_yaml =
        fs::read_to_string(sandbox.path("bundle/kubernetes/gcpbackendpolicy.yaml")).unwrap();
    assert!(
        policy_yaml.contains(&format!("securityPolicy: {name}\n")),
        "{policy_yaml}"
    );

    let again = sandbox.infra(&["apply"]).ok();
    assert_eq!(again.results(), sandbox.every_step("exists"));
    again.changed_nothing();
    let planned = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(planned.code, 0, "{}", planned.stdout);

    let run = sandbox.infra(&["destroy", "--yes"]).ok();
    assert_eq!(run.result("security-policy"), "deleted");
    assert!(!sandbox.resources().contains(&policy_key(&sandbox)));
}

/// A changed stack changes only the rules that differ: a shorter WAF list deletes the rule
/// it dropped, a longer allow list (12 ranges: two rules of at most 10) updates the first
/// rule and creates the second, a new rate limit updates both; without a rate limit the
/// throttles become allow rules (replaced: a rate limit goes with a throttle only); without
/// an allow list the default rule allows again and the allow rules go.
#[test]
fn a_changed_stack_updates_and_deletes_only_the_rules_that_differ() {
    let scratch = TempDir::new("armor-changed");
    let mut sandbox = Sandbox::new(&stack("armor"));
    let name = policy_name(&sandbox);
    sandbox.infra(&["apply"]).ok();

    let twelve: Vec<String> = (1..=12).map(|i| format!("10.{i}.0.0/16")).collect();
    let quoted: Vec<String> = twelve.iter().map(|r| format!("\"{r}\"")).collect();
    let changed = changed_stack(
        &scratch,
        "armor",
        &[
            (
                "waf = [\"sqli-v422-stable\", \"xss-v422-stable\"]",
                "waf = [\"sqli-v422-stable\"]",
            ),
            (
                "allow = [\"203.0.113.0/24\", \"198.51.100.0/24\"]",
                &format!("allow = [{}]", quoted.join(", ")),
            ),
            ("rate_limit = 600", "rate_limit = 300"),
        ],
        "",
    );
    sandbox.rebuild(&changed);
    let planned = sandbox.infra(&["plan", "--detailed-exitcode"]);
    assert_eq!(planned.code, 2, "{}", planned.stdout);
    planned.changed_nothing();
    assert!(
        planned.stdout.contains(
            "rule 1001 is not in the stack: 1001 deny(403) evaluatePreconfiguredWaf('xss-v422-stable', {'sensitivity': 1})"
        ),
        "{}",
        planned.stdout
    );
    let run = sandbox.infra(&["apply"]).ok();
    let armor = armor_calls(&run);
    assert_eq!(
        armor,
        [
            "gcloud compute security-policies rules update 2000",
            "gcloud compute security-policies rules create 2001",
            "gcloud compute security-policies rules delete 1001",
        ],
        "{}",
        run.stdout
    );
    let first: Vec<&str> = twelve[..10].iter().map(String::as_str).collect();
    let second: Vec<&str> = twelve[10..].iter().map(String::as_str).collect();
    assert_eq!(
        rules(&sandbox),
        [
            waf_rule(1000, "sqli-v422-stable"),
            throttle_rule(
                2000,
                &first,
                300,
                "allow list (1 of 2): 300 requests a minute each, then 429"
            ),
            throttle_rule(
                2001,
                &second,
                300,
                "allow list (2 of 2): 300 requests a minute each, then 429"
            ),
            default_rule("deny(403)"),
        ]
    );
    sandbox.infra(&["apply"]).ok().changed_nothing();

    // No rate limit: the throttles are replaced by allow rules.
    let without_limit = changed_stack(&scratch, "armor", &[("rate_limit = 600\n", "")], "");
    sandbox.rebuild(&without_limit);
    let run = sandbox.infra(&["apply"]).ok();
    let armor = armor_calls(&run);
    assert_eq!(
        armor,
        [
            "gcloud compute security-policies rules create 1001",
            "gcloud compute security-policies rules delete 2000",
            "gcloud compute security-policies rules create 2000",
            "gcloud compute security-policies rules delete 2001",
        ],
        "{}",
        run.stdout
    );
    let found = rules(&sandbox);
    assert_eq!(found[2]["action"], "allow");
    assert_eq!(found[2]["match"]["config"]["srcIpRanges"], json!(ALLOW));
    assert!(found[2].get("rateLimitOptions").is_none(), "{found:#?}");
    assert_eq!(found.len(), 4, "{found:#?}");

    // No allow list, a rate limit: one throttle on every address, and the default rule
    // allows.
    let without_allow = changed_stack(
        &scratch,
        "armor",
        &[("allow = [\"203.0.113.0/24\", \"198.51.100.0/24\"]\n", "")],
        "",
    );
    sandbox.rebuild(&without_allow);
    let run = sandbox.infra(&["apply"]).ok();
    assert!(
        run.stdout
            .contains("update default rule: deny(403) → allow"),
        "{}",
        run.stdout
    );
    assert_eq!(
        rules(&sandbox),
        [
            waf_rule(1000, "sqli-v422-stable"),
            waf_rule(1001, "xss-v422-stable"),
            throttle_rule(
                2000,
                &["*"],
                600,
                "every address: 600 requests a minute each, then 429"
            ),
            default_rule("allow"),
        ]
    );
    sandbox.infra(&["apply"]).ok().changed_nothing();
    // What was not planned is only what the stack dropped.
    assert!(
        sandbox
            .resources()
            .contains(&format!("security-policy {name}"))
    );
}

/// A policy of that name made by someone else is adopted: never changed, never deleted,
/// and `apply` names each rule of the stack it lacks or has otherwise, and says that the
/// stack's allow list is then not what is enforced.
#[test]
fn an_adopted_policy_is_left_alone_with_a_warning_per_difference() {
    let sandbox = Sandbox::new(&stack("armor"));
    let name = policy_name(&sandbox);
    let key = policy_key(&sandbox);
    sandbox.seed(
        &key,
        json!({"name": name, "type": "CLOUD_ARMOR", "description": "the network team's",
               "rules": [waf_rule(1000, "sqli-v33-stable"), default_rule("allow")]}),
    );
    let before = sandbox.resource(&key);
    let run = sandbox.infra(&["apply"]).ok();
    assert_eq!(run.result("security-policy"), "adopted");
    for warning in [
        format!(
            "warning: security policy {name} has rule 1000 as 1000 deny(403) evaluatePreconfiguredWaf('sqli-v33-stable', {{'sensitivity': 1}}), not as the stack says (WAF sqli-v422-stable: 403)"
        ),
        format!("warning: security policy {name} has no rule 1001 (WAF xss-v422-stable: 403)"),
        format!(
            "warning: security policy {name} has no rule 2000 (allow list: 600 requests a minute each, then 429): 2000 throttle 203.0.113.0/24;198.51.100.0/24 600 60 allow deny(429) IP"
        ),
        format!("warning: security policy {name}'s default rule is allow, not deny(403)"),
        format!(
            "warning: the gateway is guarded by what security policy {name} says, not by the stack's allow, waf and rate_limit"
        ),
    ] {
        assert!(run.stdout.contains(&warning), "{warning}\n{}", run.stdout);
    }
    assert!(
        run.calls
            .iter()
            .all(|call| !(call.mutating && call.line().contains("security-policies"))),
        "{}",
        run.transcript
    );
    assert_eq!(sandbox.resource(&key), before);

    let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    assert_eq!(
        run.result("security-policy"),
        "kept (not created by infra.sh)"
    );
    assert_eq!(sandbox.resource(&key), before);
}

/// `destroy` while a backend service still names the policy (the GCPBackendPolicy was not
/// deleted) stops with what to do; once it has let go, the policy is deleted.
#[test]
fn destroy_says_so_when_the_backend_service_still_uses_the_policy() {
    let sandbox = Sandbox::new(&stack("armor"));
    let name = policy_name(&sandbox);
    sandbox.infra(&["apply"]).ok();
    let backend = "backend-service global/gkegw1-abcd-armor-mlflow-armor-mlflow-server-8080-x";
    sandbox.seed(
        backend,
        json!({"name": "gkegw1-abcd-armor-mlflow-armor-mlflow-server-8080-x",
               "securityPolicy": format!("https://www.googleapis.com/compute/v1/projects/{}/global/securityPolicies/{name}", sandbox.plan.names.project)}),
    );
    let run = sandbox.infra(&["destroy", "--yes"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains(&format!(
            "security policy {name} is still attached to the gateway's backend service: run `kubectl delete -k kubernetes/`"
        )),
        "{}",
        run.stderr
    );
    assert!(sandbox.resources().contains(&policy_key(&sandbox)));
    sandbox.unseed(backend);
    sandbox.infra(&["destroy", "--yes"]).ok();
    assert!(!sandbox.resources().contains(&policy_key(&sandbox)));
}
