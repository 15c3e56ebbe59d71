"""The MLflow request auth provider ``iap`` (selected with MLFLOW_TRACKING_AUTH=iap)."""

import os
import threading

import requests.auth
from mlflow.tracking.request_auth.abstract_request_auth_provider import RequestAuthProvider

from mlflow_stack_auth.tokens import tokens_from_environment


class BearerAuth(requests.auth.AuthBase):
    """Sets ``Authorization: Bearer`` to a token that is valid when the request is sent."""

    def __init__(self, tokens):
        self.tokens = tokens

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.tokens.token()}"
        return request


class IapRequestAuthProvider(RequestAuthProvider):
    """MLflow asks ``get_auth`` once per request: the token source is made once, from the
    environment, and shared by every request of the process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._tokens = None
        self._environment = None

    def get_name(self):
        return "iap"

    def get_auth(self):
        environment = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_IAP_")}
        with self._lock:
            if self._tokens is None or environment != self._environment:
                self._tokens = tokens_from_environment()
                self._environment = environment
            return BearerAuth(self._tokens)
