//! Which `server.allowed_hosts` entries a client outside the cluster sends as `Host` when it
//! reaches the load balancer: MLflow answers 403 to every other name, so a load balancer
//! without one is reachable by nobody (the `load-balancer-host` hint), and the bundle README
//! shows a URL only with such a name.

/// Whether a client outside the cluster can reach the Service's `port` by this entry: a
/// DNS name or an address (not localhost, not a name only the cluster resolves), on that
/// port or any. A client omits port 80 from `Host`, so `name:80` never matches it.
#[must_use]
pub fn reaches_from_outside(host: &str, port: u16) -> bool {
    let (name, entry_port) = split(host);
    let port_matches = match entry_port {
        None | Some("*") => true,
        Some(given) => port != 80 && given.parse::<u16>().is_ok_and(|p| p == port),
    };
    let name = name.strip_prefix("*.").unwrap_or(name);
    // Entries are lowercase (`HostPattern` rejects uppercase).
    let cluster_only = !name.contains('.')
        || name.rsplit('.').next() == Some("svc")
        || name.ends_with(".cluster.local")
        || name.starts_with("127.");
    port_matches && !cluster_only
}

/// The URL a README can show for the load balancer: the first entry clients reach it by
/// that names one host (no wildcard).
#[must_use]
pub fn client_url<'a>(hosts: impl IntoIterator<Item = &'a str>, port: u16) -> Option<String> {
    let host = hosts
        .into_iter()
        .find(|host| reaches_from_outside(host, port) && !host.starts_with("*."))?;
    let (name, _) = split(host);
    Some(if port == 80 {
        format!("http://{name}")
    } else {
        format!("http://{name}:{port}")
    })
}

fn split(host: &str) -> (&str, Option<&str>) {
    match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_only_with_a_name_clients_use() {
        assert_eq!(client_url(["localhost", "mlflow-server"], 8080), None);
        assert_eq!(
            client_url(["*.example.com", "mlflow.example.com"], 8080).as_deref(),
            Some("http://mlflow.example.com:8080")
        );
        assert_eq!(
            client_url(["mlflow.example.com:*"], 80).as_deref(),
            Some("http://mlflow.example.com")
        );
        assert_eq!(client_url(["mlflow.example.com:80"], 80), None);
    }
}
