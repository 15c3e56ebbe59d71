"""An Identity-Aware Proxy token for an MLflow client, from a service account.

IAP in front of a `gateway` stack (`[auth] kind = "iap"`) admits programmatic clients that
send a JWT signed for a service account listed in `members`, with the URL of the server as
its audience (https://cloud.google.com/iap/docs/authentication-howto). MLflow sends
`MLFLOW_TRACKING_TOKEN` as `Authorization: Bearer TOKEN`:

    export MLFLOW_TRACKING_URI=https://mlflow.acme.example
    export MLFLOW_TRACKING_TOKEN=$(python iap_token.py mlflow.acme.example \
        ci-trainer@acme-ml-prod.iam.gserviceaccount.com)
    python examples/train.py

The caller (the service account itself, or a person impersonating it) needs
`roles/iam.serviceAccountTokenCreator` on the service account; the token lasts one hour.
Requires `google-auth` and `requests`.
"""

import json
import sys
import time

import google.auth
from google.auth.transport.requests import AuthorizedSession

LIFETIME_SECONDS = 3600


def iap_token(host: str, service_account: str) -> str:
    now = int(time.time())
    claims = {
        "iss": service_account,
        "sub": service_account,
        "aud": f"https://{host}/*",
        "iat": now,
        "exp": now + LIFETIME_SECONDS,
    }
    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    response = AuthorizedSession(credentials).post(
        "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"
        f"{service_account}:signJwt",
        json={"payload": json.dumps(claims)},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["signedJwt"]


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python iap_token.py HOST SERVICE_ACCOUNT_EMAIL")
    print(iap_token(sys.argv[1], sys.argv[2]))
