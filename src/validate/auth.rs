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
/// The principals that can be an MLflow user: one signed-in identity each.
const ADMIN_PREFIXES: &[&str] = &["user", "serviceAccount"];

string_newtype!(
    /// The ID of a Google OAuth 2.0 client: `NUMBER-ID.apps.googleusercontent.com`, the
    /// project number, a dash, lowercase letters and digits.
    OAuthClientId
);

const OAUTH_CLIENT_SUFFIX: &str = ".apps.googleusercontent.com";

impl OAuthClientId {
    pub fn parse(value: &str) -> Checked<Self> {
        let well_formed = value.strip_suffix(OAUTH_CLIENT_SUFFIX).is_some_and(|id| {
            id.split_once('-').is_some_and(|(number, rest)| {
                !number.is_empty()
                    && !number.starts_with('0')
                    && number.bytes().all(|b| b.is_ascii_digit())
                    && !rest.is_empty()
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
        });
        if well_formed {
            return Ok(Self(value.to_owned()));
        }
        let looks_like_secret = value.starts_with("GOCSPX-");
        let problem = Problem::new(
            Code::InvalidOauthClientId,
            if looks_like_secret {
                "this looks like an OAuth client's secret, not its ID".to_owned()
            } else {
                format!("`{}` is not an OAuth client ID", shown(value))
            },
        )
        .label(if looks_like_secret {
            "a client secret"
        } else {
            "not `NUMBER-ID.apps.googleusercontent.com`"
        })
        .help(if looks_like_secret {
            "never write the secret in the stack file: put it in Secret Manager as the bundle README says, and write the client's ID here (`NUMBER-ID.apps.googleusercontent.com`)"
        } else {
            "copy the client ID from the Google Cloud console (Google Auth Platform > Clients), e.g. `123456789012-abc123.apps.googleusercontent.com`"
        });
        Err(if looks_like_secret {
            problem.secret()
        } else {
            problem
        })
    }
}

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
    /// The kind before the `:`, e.g. `group`; `None` for `allUsers`-like principals.
    #[must_use]
    pub fn kind(&self) -> Option<&str> {
        self.0.split_once(':').map(|(kind, _)| kind)
    }

    /// The email or domain after the kind.
    #[must_use]
    pub fn identity(&self) -> &str {
        self.0.split_once(':').map_or(&self.0, |(_, rest)| rest)
    }

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
        if kind.value == AuthKind::None
            && let Some(field) = &auth.default_permission
        {
            self.push(
                Diagnostic::error(
                    Code::ConflictingOptions,
                    field.key.clone(),
                    format!("`auth.default_permission` applies to `kind = \"basic\"` and `kind = \"iap\"`, not `{kind_name}`"),
                )
                .label(format!("unused with `kind = \"{kind_name}\"`"))
                .help("remove `default_permission`, or use `kind = \"basic\"` or `kind = \"iap\"`"),
            );
        }
        if kind.value != AuthKind::Iap {
            for (key, field) in [
                ("members", auth.members.as_ref().map(|f| &f.key)),
                ("admins", auth.admins.as_ref().map(|f| &f.key)),
                (
                    "oauth_client_id",
                    auth.oauth_client_id.as_ref().map(|f| &f.key),
                ),
            ] {
                let Some(span) = field else { continue };
                let help = match (kind.value, key) {
                    (AuthKind::Basic, "members") => "basic-auth users are created in MLflow (its admin API or UI), not in the stack file; remove `members`".to_owned(),
                    (AuthKind::Basic, "admins") => "basic auth has one admin, whose password `infra.sh` generates; remove `admins`".to_owned(),
                    _ => format!("remove `{key}`, or use `kind = \"iap\"` with a gateway"),
                };
                self.push(
                    Diagnostic::error(
                        Code::ConflictingOptions,
                        span.clone(),
                        format!("`auth.{key}` applies to `kind = \"iap\"`, not `{kind_name}`"),
                    )
                    .label(format!("unused with `kind = \"{kind_name}\"`"))
                    .help(help),
                );
            }
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
        let admins = self.iap_admins(auth.admins.as_ref());
        let oauth_client_id = self.oauth_client_id(kind, auth.oauth_client_id.as_ref());
        let (Some(admins), Some(oauth_client_id)) = (admins, oauth_client_id) else {
            return None;
        };
        if failed || members.is_empty() {
            return None;
        }
        Some(Auth::Iap {
            members,
            admins,
            default_permission: auth
                .default_permission
                .as_ref()
                .map_or(Permission::Read, |p| p.value),
            oauth_client_id,
        })
    }

    /// `auth.admins`: IAM principals that name one signed-in identity each, as only those
    /// can be an MLflow user. `None` when one failed (reported).
    fn iap_admins(&mut self, field: Option<&Spanned<Vec<Spanned<String>>>>) -> Option<Vec<Member>> {
        let mut admins: Vec<Member> = Vec::new();
        let mut failed = false;
        for item in field.iter().flat_map(|f| &f.value) {
            let Some(admin) = self.check("auth.admins", Some(item), Member::parse) else {
                failed = true;
                continue;
            };
            if let Some(prefix) = admin.kind().filter(|k| !ADMIN_PREFIXES.contains(k)) {
                let rest = admin.identity();
                self.push(
                    Diagnostic::error(
                        Code::InvalidMember,
                        item.span.clone(),
                        format!("`{}` cannot be an MLflow admin: a {prefix} is not one signed-in identity", shown(admin.as_str())),
                    )
                    .label(format!("a {prefix}"))
                    .help(if prefix == "group" {
                        format!("MLflow admins are users: list each person as `user:EMAIL` (or a service account as `serviceAccount:EMAIL`); the group `{}` can stay in `members`", shown(rest))
                    } else {
                        "MLflow admins are users: list each person as `user:EMAIL` (or a service account as `serviceAccount:EMAIL`)".to_owned()
                    }),
                );
                failed = true;
            } else if admins.contains(&admin) {
                self.push(
                    Diagnostic::error(
                        Code::InvalidMember,
                        item.span.clone(),
                        format!("`{admin}` is listed twice"),
                    )
                    .label("a duplicate")
                    .help("remove one of them"),
                );
                failed = true;
            } else {
                admins.push(admin);
            }
        }
        (!failed).then_some(admins)
    }

    /// `auth.oauth_client_id`: required, as GKE's Gateway takes IAP's OAuth client from the
    /// `GCPBackendPolicy` (Compute Engine: with IAP enabled, `oauth2ClientId` and
    /// `oauth2ClientSecret` must be set).
    fn oauth_client_id(
        &mut self,
        kind: &Spanned<AuthKind>,
        field: Option<&Spanned<String>>,
    ) -> Option<OAuthClientId> {
        if field.is_none() {
            if !self.parsed.has("auth.oauth_client_id") {
                self.push(
                    Diagnostic::error(
                        Code::MissingKey,
                        kind.span.clone(),
                        "`kind = \"iap\"` needs `oauth_client_id`: IAP on a GKE Gateway signs users in with an OAuth client of yours",
                    )
                    .label("no `oauth_client_id`")
                    .help("create an OAuth client of type \"Web application\" (Google Cloud console, Google Auth Platform > Clients), add `oauth_client_id = \"NUMBER-ID.apps.googleusercontent.com\"`, and put its secret in Secret Manager as the bundle README says"),
                );
            }
            return None;
        }
        self.check("auth.oauth_client_id", field, OAuthClientId::parse)
    }
}

impl Validator<'_> {
    /// The basic-auth user store is the database `<database>_auth`: it must fit
    /// PostgreSQL's 63-byte identifiers.
    pub(super) fn auth_database_fits(&mut self, raw: &raw::StackFile, auth: Option<&Auth>) {
        if !auth.is_some_and(Auth::user_store) {
            return;
        }
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
    use super::{Code, Member, OAuthClientId};

    #[test]
    fn oauth_client_ids_are_google_client_ids_never_secrets() {
        assert!(OAuthClientId::parse("123456789012-abc123def.apps.googleusercontent.com").is_ok());
        for (bad, label) in [
            ("GOCSPX-abcdefghijklmnop", "a client secret"),
            (
                "123456789012-abc.apps.example.com",
                "not `NUMBER-ID.apps.googleusercontent.com`",
            ),
            (
                "abc.apps.googleusercontent.com",
                "not `NUMBER-ID.apps.googleusercontent.com`",
            ),
            (
                "0123-abc.apps.googleusercontent.com",
                "not `NUMBER-ID.apps.googleusercontent.com`",
            ),
            (
                "123-ABC.apps.googleusercontent.com",
                "not `NUMBER-ID.apps.googleusercontent.com`",
            ),
            (
                "123-.apps.googleusercontent.com",
                "not `NUMBER-ID.apps.googleusercontent.com`",
            ),
        ] {
            let problem = OAuthClientId::parse(bad).unwrap_err();
            assert_eq!(problem.code, Code::InvalidOauthClientId, "{bad}");
            assert_eq!(problem.label, label, "{bad}");
        }
    }

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
