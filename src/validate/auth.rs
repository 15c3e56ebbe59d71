//! Who may use the server: the `[auth]` table, and the rule that nothing reachable from
//! outside the cluster is open by default.

use super::Validator;
use super::expose::is_dns_name;
use crate::diag::{Code, Diagnostic, shown};
use crate::model::{Auth, AuthKind, Expose, ExposeType, Permission};
use crate::problem::{Checked, Problem, string_newtype};
use crate::raw::{self, Spanned};
use crate::suggest;

string_newtype!(
    /// An IAM principal IAP lets in: `user:EMAIL`, `group:EMAIL`,
    /// `serviceAccount:EMAIL` (an email ending in `gserviceaccount.com`) or
    /// `domain:DOMAIN` (a Google Workspace or Cloud Identity domain).
    Member
);

const PREFIXES: &[&str] = &["user", "group", "serviceAccount", "domain"];

/// Whether `value` is an email address IAM accepts: a local part of letters, digits and
/// `.`, `_`, `%`, `+`, `-`, then `@` and a DNS name (any case).
fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-'))
        && is_dns_name(&domain.to_ascii_lowercase())
}

impl Member {
    pub fn parse(value: &str) -> Checked<Self> {
        let invalid = |message: String, label: &str, help: String| {
            Problem::new(Code::InvalidMember, message)
                .label(label)
                .help(help)
        };
        let shown_value = shown(value);
        if matches!(value, "allUsers" | "allAuthenticatedUsers") {
            return Err(invalid(
                format!("`{value}` would let anyone through IAP"),
                "everyone",
                "list the people and groups who use this MLflow, e.g. \
                 `group:ml-team@acme.example`; for no sign-in at all, write `kind = \"none\"`"
                    .to_owned(),
            ));
        }
        let Some((prefix, rest)) = value.split_once(':') else {
            let help = if is_email(value) {
                format!(
                    "say what kind of account it is: `user:{shown_value}`, `group:{shown_value}` \
                     or `serviceAccount:{shown_value}`"
                )
            } else if is_dns_name(value) {
                format!("for everyone in a Google Workspace domain, write `domain:{shown_value}`")
            } else {
                "write `user:EMAIL`, `group:EMAIL`, `serviceAccount:EMAIL` or `domain:DOMAIN`"
                    .to_owned()
            };
            return Err(invalid(
                format!("`{shown_value}` is not an IAM principal"),
                "no `user:`, `group:`, `serviceAccount:` or `domain:` prefix",
                help,
            ));
        };
        if !PREFIXES.contains(&prefix) {
            let folded = PREFIXES
                .iter()
                .find(|known| known.eq_ignore_ascii_case(prefix.replace(['_', '-'], "").as_str()))
                .copied()
                .or_else(|| suggest::closest(prefix, PREFIXES.iter().copied()));
            let help = match folded {
                Some(known) => format!("did you mean `{known}:{}`?", shown(rest)),
                None => format!(
                    "IAP members are {}",
                    suggest::one_of(&[
                        "user:EMAIL",
                        "group:EMAIL",
                        "serviceAccount:EMAIL",
                        "domain:DOMAIN"
                    ])
                ),
            };
            return Err(invalid(
                format!(
                    "`{}:` is not a kind of IAM principal IAP accepts",
                    shown(prefix)
                ),
                "unknown prefix",
                help,
            )
            .within(0..prefix.len()));
        }
        let body = prefix.len() + 1..value.len();
        if prefix == "domain" {
            if !is_dns_name(rest) {
                return Err(invalid(
                    format!("`{}` is not a domain", shown(rest)),
                    "not a DNS name",
                    "write the Google Workspace or Cloud Identity domain, e.g. `domain:acme.example`"
                        .to_owned(),
                )
                .within(body));
            }
            return Ok(Self(value.to_owned()));
        }
        if !is_email(rest) {
            let help = if is_dns_name(rest) {
                format!(
                    "`{prefix}:` takes an email address; for a whole domain write `domain:{}`",
                    shown(rest)
                )
            } else {
                format!(
                    "write an email address after `{prefix}:`, e.g. `{prefix}:ana@acme.example`"
                )
            };
            return Err(invalid(
                format!("`{}` is not an email address", shown(rest)),
                "not an email address",
                help,
            )
            .within(body));
        }
        if prefix == "serviceAccount" && !rest.to_ascii_lowercase().ends_with("gserviceaccount.com")
        {
            return Err(invalid(
                format!("`{}` is not a service account's email", shown(rest)),
                "not a service account",
                format!(
                    "a Google service account's email ends in `.iam.gserviceaccount.com`; for a person write `user:{}`",
                    shown(rest)
                ),
            )
            .within(body));
        }
        if prefix != "serviceAccount" && rest.to_ascii_lowercase().ends_with("gserviceaccount.com")
        {
            return Err(invalid(
                format!("`{}` is a service account, not a {prefix}", shown(rest)),
                "a service account",
                format!("did you mean `serviceAccount:{}`?", shown(rest)),
            )
            .within(0..prefix.len()));
        }
        Ok(Self(value.to_owned()))
    }
}

impl Validator<'_> {
    /// Who may use the server. `None` when a rule failed (reported). `expose_kind` is the
    /// exposure the stack asks for, `None` when its `type` was rejected: the rules here
    /// depend on the kind only, so a gateway without `host` still gets them.
    pub(super) fn auth(
        &mut self,
        raw: Option<&Spanned<raw::Auth>>,
        expose_kind: Option<ExposeType>,
        raw_expose: Option<&raw::Expose>,
        environment: Option<crate::model::Environment>,
    ) -> Option<Auth> {
        let type_span = raw_expose
            .and_then(|e| e.kind.as_ref())
            .map(|k| k.span.clone());
        let Some(table) = raw else {
            let expose_kind = expose_kind?;
            if expose_kind == ExposeType::ClusterIp {
                return Some(Auth::None);
            }
            let kind = crate::raw::Choice::as_str(expose_kind);
            let iap = if expose_kind == ExposeType::Gateway {
                "`kind = \"iap\"` (Google sign-in, with `members`), "
            } else {
                ""
            };
            let clear_text = expose_kind == ExposeType::LoadBalancer
                && environment == Some(crate::model::Environment::Gke);
            let help = if clear_text {
                "a load balancer on gke is plain HTTP, so sign-in needs HTTPS: use `type = \"gateway\"` \
                 with `host` and an `[auth]` table (`kind = \"basic\"` or `kind = \"iap\"`), add \
                 `[auth] kind = \"none\"` to leave it open on purpose, or remove `type` to reach it \
                 with `kubectl port-forward`"
                    .to_owned()
            } else {
                format!(
                    "add an `[auth]` table: `kind = \"basic\"` (MLflow users and passwords), {iap}or \
                     `kind = \"none\"` to leave it open on purpose; or remove `type` to reach it with \
                     `kubectl port-forward`"
                )
            };
            self.push(
                Diagnostic::error(
                    Code::OpenByDefault,
                    type_span.unwrap_or(0..0),
                    format!("a `{kind}` makes the server reachable from outside the cluster, and no `[auth]` says who may use it"),
                )
                .label("reachable from outside the cluster")
                .help(help),
            );
            return None;
        };
        let auth = &table.value;
        let Some(kind) = &auth.kind else {
            if !self.parsed.has("auth.kind") {
                self.push(
                    Diagnostic::error(Code::MissingKey, table.key.clone(), "`[auth]` needs `kind`")
                        .label("no `kind`")
                        .help("add `kind = \"basic\"`, `kind = \"iap\"` (with a gateway) or `kind = \"none\"`"),
                );
            }
            return None;
        };
        let kind_name = crate::raw::Choice::as_str(kind.value);
        if kind.value != AuthKind::Basic
            && let Some(field) = &auth.default_permission
        {
            self.push(
                Diagnostic::error(
                    Code::ConflictingOptions,
                    field.key.clone(),
                    format!("`auth.default_permission` applies to `kind = \"basic\"`, not `{kind_name}`"),
                )
                .label(format!("unused with `kind = \"{kind_name}\"`"))
                .help(if kind.value == AuthKind::Iap {
                    "IAP decides who gets in, and every member can then read and write; remove `default_permission`"
                } else {
                    "remove `default_permission`, or use `kind = \"basic\"`"
                }),
            );
        }
        if kind.value != AuthKind::Iap
            && let Some(field) = &auth.members
        {
            self.push(
                Diagnostic::error(
                    Code::ConflictingOptions,
                    field.key.clone(),
                    format!("`auth.members` applies to `kind = \"iap\"`, not `{kind_name}`"),
                )
                .label(format!("unused with `kind = \"{kind_name}\"`"))
                .help(if kind.value == AuthKind::Basic {
                    "basic-auth users are created in MLflow (its admin API or UI), not in the stack file; remove `members`"
                } else {
                    "remove `members`, or use `kind = \"iap\"` with a gateway"
                }),
            );
        }
        match kind.value {
            AuthKind::None => {
                self.push(
                    Diagnostic::warning(
                        Code::NoAuth,
                        kind.span.clone(),
                        "`kind = \"none\"`: anyone who reaches the server can read, change and delete every experiment",
                    )
                    .label("no sign-in")
                    .help("use `kind = \"basic\"` (MLflow users and passwords), or `kind = \"iap\"` with a gateway, unless the network alone decides who gets in"),
                );
                Some(Auth::None)
            }
            AuthKind::Basic => Some(Auth::Basic {
                default_permission: auth
                    .default_permission
                    .as_ref()
                    .map_or(Permission::Read, |p| p.value),
            }),
            AuthKind::Iap => self.iap(kind, auth, expose_kind),
        }
    }

    fn iap(
        &mut self,
        kind: &Spanned<AuthKind>,
        auth: &raw::Auth,
        expose_kind: Option<ExposeType>,
    ) -> Option<Auth> {
        let mut failed = false;
        if let Some(expose_kind) = expose_kind
            && expose_kind != ExposeType::Gateway
        {
            self.push(
                Diagnostic::error(
                    Code::IapWithoutGateway,
                    kind.span.clone(),
                    format!(
                        "`kind = \"iap\"` needs `expose.type = \"gateway\"`, not `{}`",
                        crate::raw::Choice::as_str(expose_kind)
                    ),
                )
                .label("IAP runs on Google's load balancer")
                .help("set `[expose] type = \"gateway\"` with `host` (gke), or use `kind = \"basic\"`"),
            );
            failed = true;
        }
        let members_field = auth.members.as_ref();
        if members_field.is_none_or(|m| m.value.is_empty())
            && !(members_field.is_none() && self.parsed.has("auth.members"))
        {
            let span = members_field.map_or(kind.span.clone(), |m| m.span.clone());
            self.push(
                Diagnostic::error(Code::MissingMembers, span, "`kind = \"iap\"` needs `members`: nobody could sign in")
                    .label("no members")
                    .help("list who may sign in, e.g. `members = [\"group:ml-team@acme.example\", \"user:ana@acme.example\"]`"),
            );
            failed = true;
        }
        let mut members: Vec<Member> = Vec::new();
        for field in members_field.iter().flat_map(|m| &m.value) {
            match self.check("auth.members", Some(field), Member::parse) {
                Some(member) if members.contains(&member) => {
                    self.push(
                        Diagnostic::error(
                            Code::InvalidMember,
                            field.span.clone(),
                            format!("`{member}` is listed twice"),
                        )
                        .label("a duplicate")
                        .help("remove one of them"),
                    );
                    failed = true;
                }
                Some(member) => members.push(member),
                None => failed = true,
            }
        }
        if failed || members.is_empty() {
            return None;
        }
        Some(Auth::Iap { members })
    }
}

impl Validator<'_> {
    /// The basic-auth user store is the database `<database>_auth`: it must fit
    /// PostgreSQL's 63-byte identifiers.
    pub(super) fn auth_database_fits(&mut self, raw: &raw::StackFile, auth: Option<&Auth>) {
        let Some(Auth::Basic { .. }) = auth else {
            return;
        };
        let Some(field) = raw
            .database
            .as_ref()
            .and_then(|d| d.value.database.as_ref())
        else {
            return;
        };
        let derived = crate::names::auth_database(&field.value);
        if derived.len() > 63 && field.value.len() <= 63 {
            self.push(
                Diagnostic::error(
                    Code::DerivedNameTooLong,
                    field.span.clone(),
                    format!("the basic-auth user store `{}` would be {} characters; PostgreSQL allows 63", shown(&derived), derived.len()),
                )
                .label(format!("{} characters, plus `_auth`", field.value.len()))
                .help(format!("shorten `database.database` to at most {} characters", 63 - (derived.len() - field.value.len()))),
            );
        }
    }

    /// What this version validates but does not compile: IAP on an internal gateway. GKE
    /// documents IAP through `GCPBackendPolicy` for its external Gateway classes; this
    /// version found no documentation of it for `gke-l7-rilb`, so it refuses the
    /// combination rather than build a bundle whose sign-in may never apply.
    pub(super) fn not_yet_supported(&mut self, raw: &raw::StackFile, expose: Option<&Expose>) {
        if self.diags.has_errors() {
            return;
        }
        let internal = expose
            .and_then(|e| e.gateway.as_ref())
            .is_some_and(|g| g.scope == crate::model::ExposeScope::Internal);
        let iap = raw
            .auth
            .as_ref()
            .and_then(|a| a.value.kind.as_ref())
            .filter(|k| k.value == crate::model::AuthKind::Iap);
        if let (true, Some(kind)) = (internal, iap) {
            self.push(
                Diagnostic::error(
                    Code::NotYetSupported,
                    kind.span.clone(),
                    "`auth.kind = \"iap\"` on an internal gateway is not compiled by this version of mlflow-stack",
                )
                .label("IAP with `scope = \"internal\"`")
                .help("use `kind = \"basic\"` (MLflow's own sign-in) with the internal gateway, or `scope = \"external\"` with IAP"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Code, Member};

    #[test]
    fn members_are_iam_principals() {
        for good in [
            "user:ana@acme.example",
            "group:ml-team@acme.example",
            "serviceAccount:ci@acme-ml-prod.iam.gserviceaccount.com",
            "domain:acme.example",
            "user:Ana.Lopez+ml@Acme.example",
        ] {
            assert!(Member::parse(good).is_ok(), "{good}");
        }
        for (bad, label, within) in [
            (
                "ana@acme.example",
                "no `user:`, `group:`, `serviceAccount:` or `domain:` prefix",
                None,
            ),
            ("users:ana@acme.example", "unknown prefix", Some(0..5)),
            (
                "service_account:ci@p.iam.gserviceaccount.com",
                "unknown prefix",
                Some(0..15),
            ),
            ("user:ana", "not an email address", Some(5..8)),
            ("user:acme.example", "not an email address", Some(5..17)),
            ("group:", "not an email address", Some(6..6)),
            ("domain:acme", "not a DNS name", Some(7..11)),
            (
                "serviceAccount:ci@acme.example",
                "not a service account",
                Some(15..30),
            ),
            (
                "user:ci@p.iam.gserviceaccount.com",
                "a service account",
                Some(0..4),
            ),
            ("allUsers", "everyone", None),
            ("allAuthenticatedUsers", "everyone", None),
        ] {
            let problem = Member::parse(bad).unwrap_err();
            assert_eq!(problem.code, Code::InvalidMember, "{bad}");
            assert_eq!(problem.label, label, "{bad}");
            assert_eq!(problem.within, within, "{bad}");
        }
        let typo = Member::parse("service_account:ci@p.iam.gserviceaccount.com").unwrap_err();
        assert_eq!(
            typo.help,
            "did you mean `serviceAccount:ci@p.iam.gserviceaccount.com`?"
        );
    }
}
