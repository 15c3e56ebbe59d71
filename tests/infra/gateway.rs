//! The Gateway's Google Cloud side: its address, DNS authorization and certificate.

use super::*;

/// An internal gateway's Google Cloud side is regional: an internal address in the
/// cluster's subnet that its HTTP and HTTPS listeners share, and a DNS authorization and a
/// certificate in the cluster's region, with no certificate map (global only); `apply`
/// prints the records to add. What existed before is adopted and survives destroy.
#[test]
fn an_internal_gateway_is_regional_and_adopts_what_it_did_not_create() {
    let sandbox = Sandbox::new(&stack("team-internal"));
    let plan = &sandbox.plan;
    let gateway = plan.gateway.as_ref().unwrap();
    let region = gateway.region.as_deref().unwrap();
    assert_eq!(region, plan.names.region);
    let run = sandbox.infra(&["apply"]).ok();
    let mark = json!({"managed-by": "mlflow-stack", "mlflow-stack": plan.names.stack_name,
                      "mlflow-stack-id": plan.names.stack_id});
    let address = sandbox.resource(&format!("address {region}/{}", gateway.address));
    assert_eq!(address["addressType"], "INTERNAL");
    assert_eq!(address["subnetwork"], "default", "the cluster's subnet");
    assert_eq!(address["purpose"], "SHARED_LOADBALANCER_VIP");
    assert_eq!(address["labels"], mark);
    let authorization = format!("dns-authorization {region}/{}", gateway.dns_authorization);
    let certificate = format!("certificate {region}/{}", gateway.certificate);
    assert_eq!(sandbox.resource(&authorization)["labels"], mark);
    assert_eq!(sandbox.resource(&certificate)["labels"], mark);
    assert!(
        sandbox
            .resources()
            .iter()
            .all(|key| !key.starts_with("certificate-map")),
        "{:?}",
        sandbox.resources()
    );
    assert!(
        run.stdout
            .contains(&format!("{} A 10.132.0.50", gateway.host)),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("_acme-challenge.{}. CNAME", gateway.host)),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "certificate {}: PROVISIONING",
            gateway.certificate
        )),
        "{}",
        run.stdout
    );
    let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    for key in [&authorization, &certificate] {
        assert!(!sandbox.resources().contains(key), "{key}\n{}", run.stdout);
    }

    // Made by hand before: adopted, left as it is, kept by destroy.
    let sandbox = Sandbox::new(&stack("team-internal"));
    let address = format!("address {region}/{}", gateway.address);
    sandbox.seed(
        &address,
        json!({"name": gateway.address, "address": "10.132.0.7", "addressType": "INTERNAL"}),
    );
    sandbox.seed(
        &authorization,
        json!({"domain": gateway.host, "labels": {"team": "net"},
               "dnsResourceRecord": {"name": format!("_acme-challenge.{}.", gateway.host),
                                     "type": "CNAME", "data": "x.authorize.certificatemanager.goog."}}),
    );
    sandbox.seed(
        &certificate,
        json!({"domain": gateway.host, "dnsAuthorization": authorization,
               "labels": {"team": "net"}, "managed": {"state": "ACTIVE"}}),
    );
    let before = sandbox.resources_at(&[&address, &authorization, &certificate]);
    let run = sandbox.infra(&["apply"]).ok();
    let results = run.results();
    for step in ["gateway-address", "certificate"] {
        let adopted = (step.to_owned(), "adopted".to_owned());
        assert!(results.contains(&adopted), "{step}: {results:?}");
    }
    assert!(
        run.stdout
            .contains(&format!("{} A 10.132.0.7", gateway.host)),
        "{}",
        run.stdout
    );
    let run = sandbox.infra(&["destroy", "--yes", "--delete-data"]).ok();
    let after = sandbox.resources_at(&[&address, &authorization, &certificate]);
    assert_eq!(after, before, "{}", run.stdout);
    let results = run.results();
    for step in ["gateway-address", "certificate"] {
        assert!(
            results.contains(&(step.to_owned(), "kept (not created by infra.sh)".to_owned())),
            "{step}: {results:?}"
        );
    }
}
