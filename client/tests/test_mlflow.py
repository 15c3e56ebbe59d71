"""The installed package as MLflow finds it: through its entry point, by name."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import NODE_SERVICE_ACCOUNT
from google.auth import jwt

AUDIENCE = "1234-iap.apps.googleusercontent.com"


def tracking_server():
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(self.headers.get("Authorization"))
            body = json.dumps({"experiments": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def test_mlflow_tracking_auth_iap_sends_the_id_token(google, monkeypatch):
    from mlflow import MlflowClient
    from mlflow.tracking.request_auth.registry import fetch_auth

    from mlflow_stack_auth import BearerAuth

    monkeypatch.setenv("MLFLOW_TRACKING_AUTH", "iap")
    monkeypatch.setenv("MLFLOW_IAP_AUDIENCE", AUDIENCE)
    assert isinstance(fetch_auth("iap"), BearerAuth)

    server, seen = tracking_server()
    try:
        client = MlflowClient(tracking_uri=f"http://127.0.0.1:{server.server_port}")
        client.search_experiments()
        client.search_experiments()
    finally:
        server.shutdown()
    assert len(seen) == 2
    for header in seen:
        kind, token = header.split(" ", 1)
        assert kind == "Bearer"
        claims = jwt.decode(token, verify=False)
        assert claims["aud"] == AUDIENCE
        assert claims["email"] == NODE_SERVICE_ACCOUNT
    assert len(google.issued("metadata")) == 1  # one token for both requests
