"""Local stand-ins for the Google endpoints the package talks to, on one HTTP server:

* the metadata server (``GCE_METADATA_HOST``/``GCE_METADATA_IP``): the ping on ``/``,
  ``instance/service-accounts/default/`` and ``.../identity``, both answering only requests that carry
  ``Metadata-Flavor: Google``, as the real one does;
* the OAuth token endpoint (``/token``): the ``authorization_code`` and ``refresh_token``
  grants of a desktop client;
* IAM Credentials' ``generateIdToken`` for impersonation.

Tokens are real JWTs signed with a throwaway RSA key, with ``iat``/``exp`` ``lifetime``
seconds apart. Google's auth library reads the metadata host when it is imported, so the
server starts, and the variables are set, before any test module imports it.
"""

import base64
import json
import os
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DESKTOP_CLIENT_ID = "1234-desktop.apps.googleusercontent.com"
DESKTOP_CLIENT_SECRET = "desktop-secret"
USER_EMAIL = "ana@example.com"
NODE_SERVICE_ACCOUNT = "trainer@project.iam.gserviceaccount.com"


class Google:
    def __init__(self):
        self.lifetime = 3600
        self.clock = time.time  # a test moves time forward for both sides at once
        self.minted = 0
        self.requests = []
        self.codes = {}  # authorization code -> client id
        self.refresh_tokens = {}  # refresh token -> (client id, e-mail)
        self.access_tokens = {}  # access token -> e-mail
        self.lock = threading.Lock()
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.server = None

    def id_token(self, audience, email):
        # Imported here: Google's auth library must not load before the environment
        # names this server as the metadata server.
        from google.auth import crypt, jwt

        signer = crypt.RSASigner.from_string(self.pem, key_id="stand-in")

        now = int(self.clock())
        with self.lock:
            self.minted += 1
        claims = {
            "jti": str(self.minted),
            "iss": "https://accounts.google.com",
            "aud": audience,
            "sub": str(abs(hash(email))),
            "email": email,
            "email_verified": True,
            "iat": now,
            "exp": now + self.lifetime,
        }
        return jwt.encode(signer, claims).decode()

    def issued(self, kind):
        with self.lock:
            return [r for r in self.requests if r[0] == kind]

    def handle(self, handler, method):
        url = urllib.parse.urlsplit(handler.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode() if length else ""
        flavour = handler.headers.get("Metadata-Flavor")
        if method == "GET" and url.path == "/":
            if flavour != "Google":
                return 403, {}, "Missing Metadata-Flavor:Google header."
            return 200, {"Metadata-Flavor": "Google", "Content-Type": "application/text"}, ""
        if url.path == "/computeMetadata/v1/instance/service-accounts/default/":
            if flavour != "Google":
                return 403, {}, "Missing Metadata-Flavor:Google header."
            account = {
                "aliases": ["default"],
                "email": NODE_SERVICE_ACCOUNT,
                "scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            }
            headers = {"Metadata-Flavor": "Google", "Content-Type": "application/json"}
            return 200, headers, json.dumps(account)
        if url.path == "/computeMetadata/v1/instance/service-accounts/default/identity":
            if flavour != "Google":
                return 403, {}, "Missing Metadata-Flavor:Google header."
            if not query.get("audience"):
                return 400, {}, "non-empty audience parameter required"
            self.record("metadata", query["audience"])
            token = self.id_token(query["audience"], NODE_SERVICE_ACCOUNT)
            return 200, {"Metadata-Flavor": "Google", "Content-Type": "application/text"}, token
        if method == "POST" and url.path == "/token":
            form = dict(urllib.parse.parse_qsl(body))
            # Client credentials in the body or, as RFC 6749 2.3.1 prefers, in Basic auth.
            basic = handler.headers.get("Authorization", "")
            if basic.startswith("Basic "):
                client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
                form["client_id"] = urllib.parse.unquote_plus(client_id)
                form["client_secret"] = urllib.parse.unquote_plus(secret)
            return self.token_endpoint(form)
        if method == "POST" and url.path.endswith(":generateIdToken"):
            bearer = handler.headers.get("Authorization", "").removeprefix("Bearer ")
            with self.lock:
                caller = self.access_tokens.get(bearer)
            if caller is None:
                return 401, {}, json.dumps({"error": {"code": 401, "status": "UNAUTHENTICATED"}})
            target = urllib.parse.unquote(url.path.split("/serviceAccounts/")[1]).removesuffix(
                ":generateIdToken"
            )
            request = json.loads(body)
            self.record("generateIdToken", target, caller)
            token = self.id_token(request["audience"], target)
            return 200, {"Content-Type": "application/json"}, json.dumps({"token": token})
        return 404, {}, "not found"

    def record(self, *what):
        with self.lock:
            self.requests.append(what)

    def token_endpoint(self, form):
        client = form.get("client_id")
        if (client, form.get("client_secret")) != (DESKTOP_CLIENT_ID, DESKTOP_CLIENT_SECRET):
            return 401, {"Content-Type": "application/json"}, json.dumps({"error": "invalid_client"})
        grant = form.get("grant_type")
        with self.lock:
            if grant == "authorization_code" and self.codes.pop(form.get("code"), None) == client:
                refresh = secrets.token_urlsafe(16)
                self.refresh_tokens[refresh] = (client, USER_EMAIL)
            elif grant == "refresh_token" and form.get("refresh_token") in self.refresh_tokens:
                refresh = None
            else:
                return 400, {"Content-Type": "application/json"}, json.dumps({"error": "invalid_grant"})
            email = self.refresh_tokens[refresh or form["refresh_token"]][1]
            access = secrets.token_urlsafe(16)
            self.access_tokens[access] = email
        self.record(grant, client)
        answer = {
            "access_token": access,
            "expires_in": self.lifetime,
            "token_type": "Bearer",
            "scope": "openid https://www.googleapis.com/auth/userinfo.email",
            "id_token": self.id_token(client, email),
        }
        if refresh:
            answer["refresh_token"] = refresh
        return 200, {"Content-Type": "application/json"}, json.dumps(answer)

    def start(self):
        google = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, method):
                status, headers, body = google.handle(self, method)
                data = body.encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self.answer("GET")

            def do_POST(self):
                self.answer("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"127.0.0.1:{self.server.server_port}"


GOOGLE = Google()
ADDRESS = GOOGLE.start()
os.environ["GCE_METADATA_HOST"] = ADDRESS
os.environ["GCE_METADATA_IP"] = ADDRESS
os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
TOKEN_URI = f"http://{ADDRESS}/token"
AUTH_URI = f"http://{ADDRESS}/authorize"


@pytest.fixture
def google():
    GOOGLE.lifetime = 3600
    GOOGLE.clock = time.time
    with GOOGLE.lock:
        GOOGLE.requests.clear()
    return GOOGLE
