"""Stand-ins for Google's side of Identity-Aware Proxy, for the e2e suite's iap scenario.

* Iap signs assertions as IAP does (https://cloud.google.com/iap/docs/signed-headers-howto):
  ES256, a key ID, issuer https://cloud.google.com/iap, the backend service's audience,
  the signed-in e-mail. Its public key is served by KeyServer, the only key the server
  under test trusts (its keys_url is set by the suite, never by the bundle).
* TokenIssuer plays Google's ID tokens (RS256, 20-second lifetime here), and
  MetadataServer the metadata server a service account on GKE gets them from.
* IapProxy is IAP in front of the load balancer: a request with a valid, unexpired ID
  token for the OAuth client's audience (Authorization: Bearer) goes on to the server
  with a signed assertion for the token's e-mail and X-Forwarded-For, as Google's load
  balancers add it; anything else is answered 401 there.
"""

import base64
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from google.auth import crypt, jwt

ISSUER = "https://cloud.google.com/iap"
KEY_ID = "e2e-test-key"
TOKEN_LIFETIME_SECONDS = 20
# A client address and a Google Front End's (https://cloud.google.com/load-balancing/docs/firewall-rules).
FORWARDED_FOR = "198.51.100.7, 35.191.0.1"


def pem(private_key):
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(private_key):
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def serve(handler_class):
    """A threaded HTTP server on a free port of 127.0.0.1, serving in the background."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def answer(handler, status, body=b"", content_type="text/plain", extra_headers=()):
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in extra_headers:
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Iap:
    """IAP's signer: ES256 assertions for one backend service's audience."""

    def __init__(self, audience):
        self.audience = audience
        key = ec.generate_private_key(ec.SECP256R1())
        self.signer = crypt.ES256Signer.from_string(pem(key), key_id=KEY_ID)
        self.published = {KEY_ID: public_pem(key)}

    def assertion(self, email, audience=None, issuer=ISSUER, lifetime=600, signer=None):
        now = int(time.time())
        claims = {
            "aud": audience or self.audience,
            "iss": issuer,
            "iat": now if lifetime > 0 else now + lifetime - 600,
            "exp": now + lifetime,
            "sub": f"accounts.google.com:{sum(email.encode())}",
            "email": email,
        }
        return jwt.encode(signer or self.signer, claims).decode()

    @staticmethod
    def foreign_signer():
        """A key of the right kind and key ID that IAP does not publish."""
        return crypt.ES256Signer.from_string(pem(ec.generate_private_key(ec.SECP256R1())), key_id=KEY_ID)

    @staticmethod
    def tampered(assertion, email):
        """The assertion with its e-mail changed and its signature kept."""
        header, payload, signature = assertion.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["email"] = email
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        return f"{header}.{forged}.{signature}"


class KeyServer:
    """Serves IAP's public keys (key ID to PEM) as https://www.gstatic.com/iap/verify/public_key does."""

    def __init__(self, iap):
        body = json.dumps(iap.published).encode()

        class Handler(QuietHandler):
            def do_GET(self):
                answer(self, 200, body, "application/json")

        self.server = serve(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/iap/verify/public_key"

    def stop(self):
        self.server.shutdown()


class TokenIssuer:
    """Google's ID tokens: RS256, TOKEN_LIFETIME_SECONDS long."""

    def __init__(self):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.signer = crypt.RSASigner.from_string(pem(key), key_id="google")
        self.public = public_pem(key)
        self._lock = threading.Lock()
        self.issued = {}  # e-mail: tokens issued

    def token(self, email, audience):
        now = int(time.time())
        with self._lock:
            self.issued[email] = self.issued.get(email, 0) + 1
            serial = self.issued[email]
        claims = {
            "iss": "https://accounts.google.com",
            "aud": audience,
            "azp": email,
            "email": email,
            "email_verified": True,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "jti": f"{email}-{serial}",
        }
        return jwt.encode(self.signer, claims).decode()


class MetadataServer:
    """The metadata server of a GKE pod running as SERVICE_ACCOUNT: its identity endpoint
    issues ID tokens for any audience (what google-auth asks through GCE_METADATA_HOST)."""

    def __init__(self, issuer, service_account):
        class Handler(QuietHandler):
            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                flavor = [("Metadata-Flavor", "Google")]
                if self.headers.get("Metadata-Flavor") != "Google":
                    answer(self, 403, b"Missing Metadata-Flavor:Google header.", extra_headers=flavor)
                elif url.path == "/":
                    answer(self, 200, b"", "application/text", flavor)
                elif url.path.endswith("/service-accounts/default/"):
                    account = {"email": service_account, "aliases": ["default"]}
                    answer(self, 200, json.dumps(account).encode(), "application/json", flavor)
                elif url.path.endswith("/service-accounts/default/identity") and query.get("audience"):
                    token = issuer.token(service_account, query["audience"])
                    answer(self, 200, token.encode(), "application/text", flavor)
                else:
                    answer(self, 404, b"not found", extra_headers=flavor)

        self.server = serve(Handler)
        self.host = f"127.0.0.1:{self.server.server_port}"

    def stop(self):
        self.server.shutdown()


class IapProxy:
    """IAP and the load balancer in front of the server at UPSTREAM (host:port): checks the
    caller's ID token (issuer's signature, the OAuth client's audience, unexpired, no clock
    skew), then forwards with IAP's signed assertion, X-Forwarded-For and Host HOST."""

    def __init__(self, iap, issuer, client_id, upstream, host):
        self.refused = []  # "METHOD PATH: reason"
        self.tokens = {}  # e-mail: set of distinct ID tokens seen
        proxy = self

        class Handler(QuietHandler):
            def forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                bearer = self.headers.get("Authorization", "")
                try:
                    if not bearer.startswith("Bearer "):
                        raise ValueError("no Bearer token")
                    claims = jwt.decode(
                        bearer[len("Bearer ") :], certs=issuer.public, audience=client_id, clock_skew_in_seconds=0
                    )
                except Exception as error:  # noqa: BLE001 - every invalid token is IAP's 401
                    proxy.refused.append(f"{self.command} {self.path}: {error}")
                    answer(self, 401, f"Invalid IAP credentials: {error}".encode())
                    return
                email = claims["email"]
                proxy.tokens.setdefault(email, set()).add(bearer)
                headers = {
                    "Host": host,
                    "X-Forwarded-For": FORWARDED_FOR,
                    "X-Forwarded-Proto": "https",
                    "x-goog-iap-jwt-assertion": iap.assertion(email),
                    "x-goog-authenticated-user-email": f"accounts.google.com:{email}",
                }
                if self.headers.get("Content-Type"):
                    headers["Content-Type"] = self.headers["Content-Type"]
                reply = requests.request(
                    self.command,
                    f"http://{upstream}{self.path}",
                    data=body,
                    headers=headers,
                    timeout=60,
                    allow_redirects=False,
                )
                answer(self, reply.status_code, reply.content, reply.headers.get("Content-Type", "text/plain"))

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward

        self.server = serve(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def stop(self):
        self.server.shutdown()
