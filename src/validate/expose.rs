//! Exposure through a GKE Gateway: `expose.host` and `expose.scope`, and the rules that tie
//! them to `expose.type` and the environment.

use std::net::IpAddr;

use super::Validator;
use crate::diag::{Code, Diagnostic, shown};
use crate::model::{Cidr, Environment, ExposeScope, ExposeType, Gateway};
use crate::names::is_dns_label;
use crate::problem::{Checked, Problem, string_newtype};
use crate::raw::{self, Spanned};

string_newtype!(
    /// The DNS name a gateway serves: lowercase labels of letters, digits and hyphens, at
    /// least two of them, at most 253 characters; not an IP address, no wildcard, no port.
    /// Certificate Manager issues the certificate for it and MLflow accepts it as a `Host`.
    HostName
);

/// Whether `value` is a fully qualified DNS name (two labels or more, a top-level label
/// that is not all digits).
pub(super) fn is_dns_name(value: &str) -> bool {
    let labels: Vec<&str> = value.split('.').collect();
    value.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| is_dns_label(label))
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

impl HostName {
    pub fn parse(value: &str) -> Checked<Self> {
        let shown_value = shown(value);
        let bad = |what: String, label: &str, help: String| {
            Err(Problem::new(Code::InvalidHost, what)
                .label(label)
                .help(help))
        };
        if let Some((_, rest)) = value.split_once("://") {
            let host = rest.split(['/', ':']).next().unwrap_or_default();
            let help = if Self::parse(host).is_ok() {
                format!("write the name alone: `host = \"{}\"`", shown(host))
            } else {
                "write the DNS name alone, e.g. `host = \"mlflow.acme.example\"`".to_owned()
            };
            return bad(
                format!("`expose.host` must be a DNS name, not the URL `{shown_value}`"),
                "a URL",
                help,
            );
        }
        if value.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() {
            return bad(
                format!("`expose.host` must be a DNS name, not the IP address `{shown_value}`"),
                "an IP address",
                "a Google-managed certificate is issued for a DNS name: write the name clients \
                 will use, e.g. `host = \"mlflow.acme.example\"`; `infra.sh` prints the A record \
                 to point it at the gateway's address"
                    .to_owned(),
            );
        }
        if value.contains('*') {
            let bare = value.trim_start_matches("*.");
            let help = if Self::parse(bare).is_ok() && bare != value {
                format!(
                    "the gateway serves MLflow on one name with a certificate for that name: \
                     write it, e.g. `host = \"mlflow.{}\"`",
                    shown(bare)
                )
            } else {
                "the gateway serves MLflow on one name: write it, e.g. `host = \"mlflow.acme.example\"`"
                    .to_owned()
            };
            return bad(
                format!("`expose.host` must be one DNS name, not the wildcard `{shown_value}`"),
                "a wildcard",
                help,
            );
        }
        if let Some((host, _)) = value.rsplit_once(':') {
            return bad(
                format!("`expose.host` must be a DNS name without a port, not `{shown_value}`"),
                "a port",
                format!(
                    "the gateway serves HTTPS on port 443 (and redirects HTTP): write `host = \"{}\"`",
                    shown(host)
                ),
            );
        }
        if let Some(bare) = value.strip_suffix('.') {
            return bad(
                format!("`expose.host` must not end with a dot: `{shown_value}`"),
                "a trailing dot",
                format!(
                    "write `host = \"{}\"`: clients send the name without it",
                    shown(bare)
                ),
            );
        }
        let lower = value.to_ascii_lowercase();
        if lower != value && is_dns_name(&lower) {
            return bad(
                format!("`expose.host` must be lowercase: `{shown_value}`"),
                "uppercase letters",
                format!("did you mean `{}`?", shown(&lower)),
            );
        }
        if !value.contains('.') && is_dns_label(value) {
            return bad(
                format!("`expose.host` must be a fully qualified DNS name, not `{shown_value}`"),
                "one label",
                format!(
                    "a public certificate needs a domain: write the full name, e.g. `host = \"{}.acme.example\"`",
                    shown(value)
                ),
            );
        }
        if !is_dns_name(value) {
            return bad(
                format!("`expose.host` is not a valid DNS name: `{shown_value}`"),
                "not a DNS name",
                "use dot-separated labels of lowercase letters, digits and hyphens (at most 63 \
                 characters each, not starting or ending with a hyphen), e.g. \
                 `host = \"mlflow.acme.example\"`"
                    .to_owned(),
            );
        }
        Ok(Self(value.to_owned()))
    }
}

impl Validator<'_> {
    /// The gateway of a stack with `type = "gateway"`, after the rules on `host` and
    /// `scope`. `Err(())` when a rule failed (reported); `Ok(None)` for other exposures.
    pub(super) fn gateway(
        &mut self,
        raw: &raw::Expose,
        kind: ExposeType,
        environment: Option<Environment>,
    ) -> Result<Option<Gateway>, ()> {
        let host = match &raw.host {
            Some(field) => self.check("expose.host", Some(field), HostName::parse),
            None => None,
        };
        let host_failed = raw.host.is_some() && host.is_none();
        if kind != ExposeType::Gateway {
            for (key, field) in [
                ("host", raw.host.as_ref().map(|f| f.key.clone())),
                ("scope", raw.scope.as_ref().map(|f| f.key.clone())),
                (
                    "proxy_subnet",
                    raw.proxy_subnet.as_ref().map(|f| f.key.clone()),
                ),
                (
                    "global_access",
                    raw.global_access.as_ref().map(|f| f.key.clone()),
                ),
            ] {
                let Some(span) = field else { continue };
                let help = match key {
                    "host" => {
                        "set `type = \"gateway\"` to serve HTTPS on this name; for a load \
                         balancer, add the name to `[server] allowed_hosts` instead"
                    }
                    "scope" => "set `type = \"gateway\"`, or remove `scope`",
                    "global_access" => {
                        "set `type = \"gateway\"` with `scope = \"internal\"`, or remove `global_access`"
                    }
                    _ => {
                        "set `type = \"gateway\"` with `scope = \"internal\"`, or remove `proxy_subnet`"
                    }
                };
                self.push(
                    Diagnostic::error(
                        Code::ConflictingOptions,
                        span,
                        format!("`expose.{key}` applies to `type = \"gateway\"`"),
                    )
                    .label(format!("unused with `type = \"{}\"`", kind_name(kind)))
                    .help(help),
                );
            }
            return if host_failed { Err(()) } else { Ok(None) };
        }
        let type_span = raw.kind.as_ref().map_or(0..0, |k| k.span.clone());
        let mut failed = host_failed;
        if environment == Some(Environment::Local) {
            self.push(
                Diagnostic::error(
                    Code::NotApplicable,
                    type_span.clone(),
                    "`expose.type = \"gateway\"` applies to `environment = \"gke\"` only",
                )
                .label("no GKE Gateway on a local cluster")
                .help(
                    "a gateway is Google's load balancer in front of GKE; on a local cluster use \
                     `type = \"cluster-ip\"` (port-forward), or `type = \"load-balancer\"` with \
                     `[auth] kind = \"basic\"`",
                ),
            );
            failed = true;
        }
        if raw.host.is_none() {
            self.push(
                Diagnostic::error(
                    Code::MissingHost,
                    type_span,
                    "a gateway needs `expose.host`, the DNS name it serves",
                )
                .label("no `host` in `[expose]`")
                .help(
                    "add `host = \"mlflow.acme.example\"` to `[expose]`: the certificate is \
                     issued for it and `infra.sh` prints the DNS records to add",
                ),
            );
            failed = true;
        }
        let scope = raw
            .scope
            .as_ref()
            .map_or(ExposeScope::External, |s| s.value);
        if failed || (raw.scope.is_none() && self.parsed.has("expose.scope")) {
            return Err(());
        }
        let proxy_subnet = self.proxy_subnet(raw, scope);
        let global_access = self.global_access(raw, scope);
        let armor = self.armor(raw, scope);
        let (proxy_subnet, global_access, armor) = (proxy_subnet?, global_access?, armor?);
        Ok(host.map(|host| Gateway {
            host,
            scope,
            proxy_subnet,
            global_access,
            waf: armor.waf,
            rate_limit: armor.rate_limit,
        }))
    }

    /// `expose.proxy_subnet`: required with an internal gateway (its proxies send from that
    /// subnet, and the NetworkPolicy must admit it), refused with an external one.
    fn proxy_subnet(&mut self, raw: &raw::Expose, scope: ExposeScope) -> Result<Option<Cidr>, ()> {
        match (scope, &raw.proxy_subnet) {
            (ExposeScope::Internal, Some(field)) => self
                .check("expose.proxy_subnet", Some(field), Cidr::parse)
                .map(Some)
                .ok_or(()),
            (ExposeScope::Internal, None) => {
                if self.parsed.has("expose.proxy_subnet") {
                    return Err(());
                }
                let span = raw.scope.as_ref().map_or(0..0, |s| s.span.clone());
                self.push(
                    Diagnostic::error(
                        Code::MissingProxySubnet,
                        span,
                        "an internal gateway needs `expose.proxy_subnet`, the range of the \
                         region's proxy-only subnet",
                    )
                    .label("no `proxy_subnet` in `[expose]`")
                    .help(
                        "the internal load balancer's proxies reach the server from the proxy-only \
                         subnet (purpose REGIONAL_MANAGED_PROXY) of the cluster's region and VPC: \
                         add its range, e.g. `proxy_subnet = \"10.129.0.0/23\"` (`gcloud compute \
                         networks subnets list --filter=purpose=REGIONAL_MANAGED_PROXY` lists it)",
                    ),
                );
                Err(())
            }
            (ExposeScope::External, Some(field)) => {
                self.push(
                    Diagnostic::error(
                        Code::ConflictingOptions,
                        field.key.clone(),
                        "`expose.proxy_subnet` applies to `scope = \"internal\"`",
                    )
                    .label("unused by an external gateway")
                    .help(
                        "an external gateway's proxies are Google Front Ends, whose ranges the \
                         NetworkPolicy already admits: remove `proxy_subnet`, or set \
                         `scope = \"internal\"`",
                    ),
                );
                Err(())
            }
            (ExposeScope::External, None) => Ok(None),
        }
    }

    /// `expose.global_access`: clients of other regions reach an internal gateway; an
    /// external gateway is reached from everywhere already.
    fn global_access(&mut self, raw: &raw::Expose, scope: ExposeScope) -> Result<bool, ()> {
        match (scope, &raw.global_access) {
            (ExposeScope::External, Some(field)) => {
                self.push(
                    Diagnostic::error(
                        Code::ConflictingOptions,
                        field.key.clone(),
                        "`expose.global_access` applies to `scope = \"internal\"`",
                    )
                    .label("unused by an external gateway")
                    .help(
                        "an external gateway is reached from every region already: remove \
                         `global_access`, or set `scope = \"internal\"`",
                    ),
                );
                Err(())
            }
            (_, Some(field)) => Ok(field.value),
            (_, None) if self.parsed.has("expose.global_access") => Err(()),
            (_, None) => Ok(false),
        }
    }

    /// Reports `field` (a `[expose]` key written for a load balancer) under another type.
    pub(super) fn load_balancer_only(
        &mut self,
        key: &str,
        field: &Spanned<impl Sized>,
        kind: ExposeType,
    ) {
        let (what, help) = match (kind, key) {
            (ExposeType::Gateway, "static_ip") => (
                "a gateway",
                "a gateway always gets a reserved address; remove `static_ip`".to_owned(),
            ),
            _ => (
                "a cluster-ip Service",
                format!("set `type = \"load-balancer\"`, or remove `{key}`"),
            ),
        };
        self.push(
            Diagnostic::error(
                Code::ConflictingOptions,
                field.key.clone(),
                format!("`expose.{key}` applies to a load balancer, not {what}"),
            )
            .label(format!("unused with `type = \"{}\"`", kind_name(kind)))
            .help(help),
        );
    }
}

fn kind_name(kind: ExposeType) -> &'static str {
    crate::raw::Choice::as_str(kind)
}

#[cfg(test)]
mod tests {
    use super::{Code, HostName};

    #[test]
    fn a_gateway_host_is_one_lowercase_dns_name() {
        for good in ["mlflow.acme.example", "a.b", "ml-1.team.acme.example"] {
            assert!(HostName::parse(good).is_ok(), "{good}");
        }
        for (bad, label) in [
            ("203.0.113.7", "an IP address"),
            ("::1", "an IP address"),
            ("[2001:db8::1]", "an IP address"),
            ("*.acme.example", "a wildcard"),
            ("https://mlflow.acme.example/", "a URL"),
            ("mlflow.acme.example:443", "a port"),
            ("mlflow.acme.example.", "a trailing dot"),
            ("MLflow.acme.example", "uppercase letters"),
            ("mlflow", "one label"),
            ("mlflow..example", "not a DNS name"),
            ("-mlflow.example", "not a DNS name"),
            ("mlflow.123", "not a DNS name"),
        ] {
            let problem = HostName::parse(bad).unwrap_err();
            assert_eq!(problem.code, Code::InvalidHost, "{bad}");
            assert_eq!(problem.label, label, "{bad}");
        }
    }
}
