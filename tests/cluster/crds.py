"""CustomResourceDefinitions built from the JSON Schemas of tests/conformance/crd-schemas/.

    python3 crds.py SCHEMA_DIR GROUP...   > crds.json   (a v1 List, for kubectl apply -f)

Every `<group>/<kind lowercased>_<version>.json` of the given groups becomes one version
of a CRD (one CRD per kind, the versions of a kind together, the newest served and
stored). The schemas are the `openAPIV3Schema` of the published CRDs (the catalogue
kubeconform uses), so they go back in unchanged but for what a CRD's schema may not
hold. The kind's spelling comes from KINDS below, the scope from CLUSTER_SCOPED.
"""

import json
import re
import sys
from pathlib import Path

# Lowercased file stem -> Kind, for every kind the schemas hold.
KINDS = {
    "backendconfig": "BackendConfig",
    "clusterpodmonitoring": "ClusterPodMonitoring",
    "frontendconfig": "FrontendConfig",
    "gcpbackendpolicy": "GCPBackendPolicy",
    "gcpgatewaypolicy": "GCPGatewayPolicy",
    "healthcheckpolicy": "HealthCheckPolicy",
    "managedcertificate": "ManagedCertificate",
    "podmonitoring": "PodMonitoring",
}
CLUSTER_SCOPED = {"ClusterPodMonitoring"}


def plural(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    return lower + "s"


def structural(schema):
    """Drops the JSON Schema keywords a CRD's structural schema does not accept."""
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key in ("$schema", "$id"):
                continue
            if key == "additionalProperties" and value is False:
                continue  # the API server prunes unknown fields instead
            out[key] = structural(value)
        return out
    if isinstance(schema, list):
        return [structural(item) for item in schema]
    return schema


def version_key(version: str):
    """v1 > v1beta2 > v1beta1 > v1alpha1, as Kubernetes orders versions."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (0, 0, 0)
    major, stage, minor = match.groups()
    return (int(major), {"alpha": 0, "beta": 1, None: 2}[stage], int(minor or 0))


def main() -> int:
    root = Path(sys.argv[1])
    crds = []
    for group in sys.argv[2:]:
        by_kind = {}
        schemas = sorted((root / group).glob("*.json"))
        if not schemas:
            sys.exit(f"{root / group}: no JSON Schema of group {group}")
        for path in schemas:
            stem, version = path.stem.rsplit("_", 1)
            if stem not in KINDS:
                sys.exit(f"{path}: unknown kind {stem!r}; add it to KINDS in {__file__}")
            by_kind.setdefault(KINDS[stem], []).append((version, json.loads(path.read_text())))
        for kind, versions in sorted(by_kind.items()):
            versions.sort(key=lambda item: version_key(item[0]), reverse=True)
            crds.append(
                {
                    "apiVersion": "apiextensions.k8s.io/v1",
                    "kind": "CustomResourceDefinition",
                    "metadata": {"name": f"{plural(kind)}.{group}"},
                    "spec": {
                        "group": group,
                        "names": {
                            "kind": kind,
                            "listKind": f"{kind}List",
                            "plural": plural(kind),
                            "singular": kind.lower(),
                        },
                        "scope": "Cluster" if kind in CLUSTER_SCOPED else "Namespaced",
                        "versions": [
                            {
                                "name": version,
                                "served": True,
                                "storage": index == 0,
                                "schema": {"openAPIV3Schema": structural(schema)},
                                "subresources": {"status": {}}
                                if "status" in schema.get("properties", {})
                                else None,
                            }
                            for index, (version, schema) in enumerate(versions)
                        ],
                    },
                }
            )
    for crd in crds:
        for version in crd["spec"]["versions"]:
            if version["subresources"] is None:
                del version["subresources"]
    json.dump({"apiVersion": "v1", "kind": "List", "items": crds}, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
