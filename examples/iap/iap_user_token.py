"""An Identity-Aware Proxy token for an MLflow client, for a person.

IAP in front of a `gateway` stack (`[auth] kind = "iap"`) signs browsers in with its
Google-managed OAuth client, which programs cannot use. A program signs a person in with an
OAuth client of type "Desktop app" in the same project instead, once an admin has put that
client's ID on IAP's programmatic allowlist (`programmatic_clients` in IAP's settings), and
sends the ID token Google issues for it (its audience is that client ID)
(https://cloud.google.com/iap/docs/authentication-howto). MLflow sends
`MLFLOW_TRACKING_TOKEN` as `Authorization: Bearer TOKEN`:

    export IAP_CLIENT_ID=1234-abcd.apps.googleusercontent.com
    export IAP_CLIENT_SECRET=...            # a desktop client's secret is not confidential
    export MLFLOW_TRACKING_URI=https://mlflow.acme.example
    export MLFLOW_TRACKING_TOKEN=$(python iap_user_token.py)
    python examples/train.py

It opens Google's sign-in in the browser, receives the authorization code on a loopback
address (127.0.0.1, a port of its own), exchanges it for tokens and prints the ID token,
which lasts one hour. The person must be among the stack's `members`. Requires `requests`.
"""

import base64
import hashlib
import http.server
import os
import secrets
import sys
import urllib.parse
import webbrowser

import requests

AUTHORIZE = "https://accounts.google.com/o/oauth2/v2/auth"
TOKEN = "https://oauth2.googleapis.com/token"


def authorization_code(client_id: str) -> tuple[str, str, str]:
    """(code, code_verifier, redirect_uri) from one sign-in in the browser."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    received: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the name http.server calls)
            query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            received.update({key: values[0] for key, values in query.items()})
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"Signed in: you can close this tab.\n")

        def log_message(self, *args):
            pass

    with http.server.HTTPServer(("127.0.0.1", 0), Handler) as server:
        redirect_uri = f"http://127.0.0.1:{server.server_port}"
        url = AUTHORIZE + "?" + urllib.parse.urlencode(
            {
                "client_id": client_id,
                "response_type": "code",
                "scope": "openid email",
                "redirect_uri": redirect_uri,
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        print(f"Sign in at: {url}", file=sys.stderr)
        webbrowser.open(url)
        while "code" not in received and "error" not in received:
            server.handle_request()
    if received.get("state") != state:
        sys.exit("iap_user_token.py: the sign-in answered with another state; try again")
    if "error" in received:
        sys.exit(f"iap_user_token.py: sign-in failed: {received['error']}")
    return received["code"], verifier, redirect_uri


def id_token(client_id: str, client_secret: str) -> str:
    code, verifier, redirect_uri = authorization_code(client_id)
    response = requests.post(
        TOKEN,
        data={
            "client_id": client_id,
            "client_secret": client_secret,
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": redirect_uri,
            "grant_type": "authorization_code",
        },
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["id_token"]


if __name__ == "__main__":
    client_id = os.environ.get("IAP_CLIENT_ID")
    client_secret = os.environ.get("IAP_CLIENT_SECRET")
    if not client_id or not client_secret:
        sys.exit("iap_user_token.py: set IAP_CLIENT_ID and IAP_CLIENT_SECRET to a desktop OAuth client on IAP's allowlist")
    print(id_token(client_id, client_secret))
