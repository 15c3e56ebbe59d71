"""MLflow's basic-auth app with mlflow_stack_iap as its authorization function, behind a
stand-in for Identity-Aware Proxy that signs assertions with a test key, the only key the
server is configured to trust here (its keys_url points at this test's key server).

Started by tests/iap/run.sh, in a venv with the server image's pins (lock/server-auth.txt)
and the client package of client/.
"""

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from google.auth import crypt, jwt

REPO = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO / "src" / "image"
PROJECT_NUMBER = "123456789012"
AUDIENCE = f"/projects/{PROJECT_NUMBER}/global/backendServices/4242424242"
ISSUER = "https://cloud.google.com/iap"
KEY_ID = "test-key"
CLIENT_AUDIENCE = "1234-iap.apps.googleusercontent.com"
ANA, BOB, BOSS = "ana@example.com", "bob@example.com", "boss@example.com"
TOKEN_LIFETIME = 20
ADMIN_PASSWORD = secrets.token_urlsafe(24)
LOAD_BALANCER_RANGES = "35.191.0.0/16, 130.211.0.0/22"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(handler_class):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def pem(private_key):
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


class Iap:
    """Signs assertions as IAP does: ES256, the test key's ID, IAP's claims."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.signer = crypt.ES256Signer.from_string(pem(self.key), key_id=KEY_ID)
        public = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.published = {KEY_ID: public.decode()}

    def assertion(self, email, audience=AUDIENCE, issuer=ISSUER, lifetime=600, signer=None, **extra):
        now = int(time.time())
        claims = {
            "aud": audience,
            "iss": issuer,
            "iat": now if lifetime > 0 else now - 1200,
            "exp": now + lifetime,
            "sub": f"accounts.google.com:{abs(hash(email))}",
            "email": email,
            "hd": "example.com",
            **extra,
        }
        return jwt.encode(signer or self.signer, claims).decode()

    def headers(self, email, **kwargs):
        return {"x-goog-iap-jwt-assertion": self.assertion(email, **kwargs)}


@pytest.fixture(scope="session")
def iap():
    return Iap()


@pytest.fixture(scope="session")
def server(iap, tmp_path_factory):
    root = tmp_path_factory.mktemp("server")

    class Keys(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = json.dumps(iap.published).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    keys = serve(Keys)
    config = root / "auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{root}/auth.db\n"
        "admin_username = admin\n"
        "authorization_function = mlflow_stack_iap:authenticate_request_iap\n"
        "\n[mlflow-stack-iap]\n"
        f"project_number = {PROJECT_NUMBER}\n"
        f"admins = user:{BOSS}\n"
        f"keys_url = http://127.0.0.1:{keys.server_port}/keys\n"
        # The test's clients connect from 127.0.0.1: inside the cluster, as far as the
        # server can tell, unless they send X-Forwarded-For.
        f"load_balancer_ranges = {LOAD_BALANCER_RANGES}\n"
    )
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "PYTHONPATH": str(MODULE_DIR),
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
    }
    log = open(root / "server.log", "w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--app-name=basic-auth",
            f"--backend-store-uri=sqlite:///{root}/mlflow.db",
            f"--default-artifact-root={root}/artifacts",
            "--host=127.0.0.1",
            f"--port={port}",
            "--workers=1",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while True:
        try:
            if requests.get(f"{url}/health", timeout=5).status_code == 200:
                break
        except requests.RequestException:
            pass
        if process.poll() is not None or time.time() > deadline:
            pytest.fail("server did not start:\n" + (root / "server.log").read_text()[-4000:])
        time.sleep(0.5)
    yield url
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
    keys.shutdown()


SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"


@pytest.mark.parametrize(
    "path",
    [SEARCH, "/", "/api/2.0/mlflow/users/get?username=admin", "/ajax-api/2.0/mlflow/experiments/search?max_results=1"],
)
def test_without_an_assertion_every_request_is_refused(server, path):
    assert requests.get(server + path, timeout=10).status_code == 401


def test_health_answers_without_an_assertion(server):
    assert requests.get(f"{server}/health", timeout=10).status_code == 200


def test_basic_auth_credentials_are_not_a_way_in(server):
    answer = requests.get(server + SEARCH, auth=("admin", "anything"), timeout=10)
    assert answer.status_code == 401


FORWARDED = {"X-Forwarded-For": "198.51.100.7, 34.120.0.1"}


def test_the_admin_inside_the_cluster_signs_in_with_its_password_and_nobody_else(server, iap):
    # The garbage collector: the admin's password, straight to the pod.
    assert requests.get(server + SEARCH, auth=("admin", ADMIN_PASSWORD), timeout=10).status_code == 200
    # Through the load balancer (it adds X-Forwarded-For), never.
    through = requests.get(server + SEARCH, auth=("admin", ADMIN_PASSWORD), headers=FORWARDED, timeout=10)
    assert through.status_code == 401
    # A member's basic credentials are no way in, even inside: only the admin's are.
    call(server, iap, ANA, "GET", SEARCH)
    assert requests.get(server + SEARCH, auth=(ANA, "anything"), timeout=10).status_code == 401


def test_metrics_are_read_inside_the_cluster_only(server):
    # No Prometheus exporter in this server: inside, /metrics gets past sign-in (404),
    # through the load balancer it does not (401); no other path gets in without one.
    assert requests.get(f"{server}/metrics", timeout=10).status_code == 404
    assert requests.get(f"{server}/metrics", headers=FORWARDED, timeout=10).status_code == 401
    assert requests.post(f"{server}/metrics", timeout=10).status_code == 401
    assert requests.get(server + SEARCH, timeout=10).status_code == 401


def tampered(token):
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["email"] = BOSS
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def unsigned(iap):
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": KEY_ID}).encode())
    body = base64.urlsafe_b64encode(
        json.dumps({"aud": AUDIENCE, "iss": ISSUER, "email": ANA, "exp": int(time.time()) + 600}).encode()
    )
    return f"{header.rstrip(b'=').decode()}.{body.rstrip(b'=').decode()}."


def foreign_key_signer():
    key = ec.generate_private_key(ec.SECP256R1())
    return crypt.ES256Signer.from_string(pem(key), key_id=KEY_ID)


def rsa_signer():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return crypt.RSASigner.from_string(pem(key), key_id=KEY_ID)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda iap: iap.assertion(ANA, audience="/projects/999/global/backendServices/1"), id="another project"),
        pytest.param(lambda iap: iap.assertion(ANA, audience=f"/projects/{PROJECT_NUMBER}/apps/my-app"), id="an App Engine audience"),
        pytest.param(lambda iap: iap.assertion(ANA, audience=CLIENT_AUDIENCE), id="a client ID"),
        pytest.param(lambda iap: iap.assertion(ANA, issuer="https://accounts.google.com"), id="wrong issuer"),
        pytest.param(lambda iap: iap.assertion(ANA, lifetime=-120), id="expired"),
        pytest.param(lambda iap: tampered(iap.assertion(ANA)), id="tampered"),
        pytest.param(lambda iap: iap.assertion(ANA, signer=foreign_key_signer()), id="another key"),
        pytest.param(lambda iap: iap.assertion(ANA, signer=rsa_signer()), id="RS256"),
        pytest.param(unsigned, id="unsigned"),
        pytest.param(lambda iap: "not-a-jwt", id="garbage"),
    ],
)
def test_an_invalid_assertion_is_refused(server, iap, make):
    answer = requests.get(server + SEARCH, headers={"x-goog-iap-jwt-assertion": make(iap)}, timeout=10)
    assert answer.status_code == 401


@pytest.mark.parametrize(
    "audience",
    [AUDIENCE, f"/projects/{PROJECT_NUMBER}/regions/europe-west1/backendServices/77"],
)
def test_this_projects_backend_services_are_accepted(server, iap, audience):
    answer = requests.get(server + SEARCH, headers=iap.headers(BOB, audience=audience), timeout=10)
    assert answer.status_code == 200, answer.text


def call(server, iap, email, method, path, **kwargs):
    return requests.request(method, server + path, headers=iap.headers(email), timeout=30, **kwargs)


def test_members_are_mlflow_users_with_mlflow_permissions(server, iap):
    # Ana's first request makes her an MLflow user; her experiment and run are hers.
    created = call(server, iap, ANA, "POST", "/api/2.0/mlflow/experiments/create", json={"name": "ana-exp"})
    assert created.status_code == 200, created.text
    experiment = created.json()["experiment_id"]
    run = call(
        server, iap, ANA, "POST", "/api/2.0/mlflow/runs/create", json={"experiment_id": experiment}
    ).json()["run"]["info"]["run_id"]
    metric = {"run_id": run, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0}
    assert call(server, iap, ANA, "POST", "/api/2.0/mlflow/runs/log-metric", json=metric).status_code == 200

    # The admin (an auth.admins principal) sees who owns it: Ana has MANAGE on it.
    permissions = call(
        server, iap, BOSS, "GET", "/api/3.0/mlflow/users/permissions/list", params={"username": ANA}
    )
    assert permissions.status_code == 200, permissions.text
    grants = {
        (p["resource_type"], p["resource_pattern"], p["permission"])
        for p in permissions.json()["permissions"]
    }
    assert ("experiment", experiment, "MANAGE") in grants, grants
    user = call(server, iap, BOSS, "GET", "/api/2.0/mlflow/users/get", params={"username": ANA})
    assert user.json()["user"]["is_admin"] is False
    assert call(server, iap, BOSS, "GET", "/api/2.0/mlflow/users/get", params={"username": BOSS}).json()[
        "user"
    ]["is_admin"] is True

    # Bob, with default_permission READ, reads it and may not write to it.
    read = call(server, iap, BOB, "GET", "/api/2.0/mlflow/runs/get", params={"run_id": run})
    assert read.status_code == 200, read.text
    assert read.json()["run"]["data"]["metrics"][0]["key"] == "loss"
    written = call(server, iap, BOB, "POST", "/api/2.0/mlflow/runs/log-metric", json={**metric, "step": 1})
    assert written.status_code == 403, written.text
    deleted = call(server, iap, BOB, "POST", "/api/2.0/mlflow/experiments/delete", json={"experiment_id": experiment})
    assert deleted.status_code == 403
    # Bob may not make himself an admin.
    promoted = call(
        server, iap, BOB, "PATCH", "/api/2.0/mlflow/users/update-admin", json={"username": BOB, "is_admin": True}
    )
    assert promoted.status_code == 403

    # The admin can write to it.
    assert call(server, iap, BOSS, "POST", "/api/2.0/mlflow/runs/log-metric", json={**metric, "step": 2}).status_code == 200


class TokenIssuer:
    """Google's side for the client: a metadata server that issues 20-second ID tokens."""

    def __init__(self):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.signer = crypt.RSASigner.from_string(pem(key), key_id="google")
        self.public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.issued = 0

    def token(self, audience):
        now = int(time.time())
        self.issued += 1
        claims = {
            "iss": "https://accounts.google.com",
            "aud": audience,
            "email": "trainer@project.iam.gserviceaccount.com",
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
            "jti": str(self.issued),
        }
        return jwt.encode(self.signer, claims).decode()


def test_a_client_with_the_package_stays_signed_in_past_the_token_lifetime(server, iap, tmp_path):
    issuer = TokenIssuer()
    refused = []

    class Metadata(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            if self.headers.get("Metadata-Flavor") != "Google":
                status, body, kind = 403, "Missing Metadata-Flavor:Google header.", "text/plain"
            elif url.path == "/":
                status, body, kind = 200, "", "application/text"
            elif url.path.endswith("/service-accounts/default/"):
                account = {"email": "trainer@project.iam.gserviceaccount.com", "aliases": ["default"]}
                status, body, kind = 200, json.dumps(account), "application/json"
            elif url.path.endswith("/service-accounts/default/identity"):
                status, body, kind = 200, issuer.token(query["audience"]), "application/text"
            else:
                status, body, kind = 404, "not found", "text/plain"
            data = body.encode()
            self.send_response(status)
            self.send_header("Metadata-Flavor", "Google")
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    class Proxy(BaseHTTPRequestHandler):
        """IAP for programs: a valid, unexpired ID token for its audience, or 401; then the
        request goes on to the server with a signed assertion for the token's e-mail."""

        def log_message(self, *args):
            pass

        def forward(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
            try:
                claims = jwt.decode(bearer, certs=issuer.public, audience=CLIENT_AUDIENCE, clock_skew_in_seconds=0)
            except Exception as error:  # noqa: BLE001 - any invalid token is a 401
                refused.append(f"{self.command} {self.path}: {error}")
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
            headers.update(iap.headers(claims["email"]))
            answer = requests.request(self.command, server + self.path, data=body, headers=headers, timeout=30)
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = do_PATCH = do_DELETE = forward

    metadata, proxy = serve(Metadata), serve(Proxy)
    seconds = TOKEN_LIFETIME * 2 + 5
    script = tmp_path / "writer.py"
    script.write_text(
        "import sys, time\n"
        "import mlflow\n"
        "mlflow.set_experiment('long-job')\n"
        "with mlflow.start_run() as run:\n"
        f"    for step in range({seconds}):\n"
        "        mlflow.log_metric('step', step, step=step)\n"
        "        time.sleep(1)\n"
        "print(run.info.run_id)\n"
    )
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{proxy.server_port}",
        "MLFLOW_TRACKING_AUTH": "iap",
        "MLFLOW_IAP_AUDIENCE": CLIENT_AUDIENCE,
        "GCE_METADATA_HOST": f"127.0.0.1:{metadata.server_port}",
        "GCE_METADATA_IP": f"127.0.0.1:{metadata.server_port}",
        # A failed write fails the job at once instead of being retried past the proof.
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }
    env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    try:
        done = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=seconds + 120
        )
    finally:
        metadata.shutdown()
        proxy.shutdown()
    assert done.returncode == 0, done.stderr[-4000:]
    assert refused == []
    assert issuer.issued >= 2  # the token was renewed during the run
    run_id = done.stdout.split()[-1]
    history = call(
        server, iap, BOSS, "GET", "/api/2.0/mlflow/metrics/get-history", params={"run_id": run_id, "metric_key": "step"}
    )
    assert len(history.json()["metrics"]) == seconds
