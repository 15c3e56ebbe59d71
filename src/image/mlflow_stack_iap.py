"""MLflow's basic-auth app behind Identity-Aware Proxy: the signed-in Google identity is
the MLflow user.

Configured as the basic-auth app's ``authorization_function``
(``mlflow_stack_iap:authenticate_request_iap`` in the file MLFLOW_AUTH_CONFIG_PATH
names), so that MLflow's own permission model applies: ``default_permission`` on others'
experiments and models, owners, admins. Every request but MLflow's unprotected routes
(``/health``, static files) must carry IAP's signed header ``x-goog-iap-jwt-assertion``:
an ES256 JWT signed with one of Google's published IAP keys, issued by
``https://cloud.google.com/iap``, unexpired, for a backend service of this project
(``/projects/NUMBER/global/backendServices/ID`` or
``/projects/NUMBER/regions/REGION/backendServices/ID``). Anything else is answered 401:
if IAP is ever off, the server is closed, not open
(https://cloud.google.com/iap/docs/signed-headers-howto).

The verified e-mail is the MLflow user, created on its first request with a random
password nobody knows (basic-auth credentials are never accepted, but from the admin inside
the cluster when ``load_balancer_ranges`` says so, below). The principals of
``iap_admins`` are MLflow admins, and only they: the list is the source of truth.

Settings, in the section ``[mlflow-stack-iap]`` of the same file:

* ``project_number``: the Google Cloud project number whose backend services are the
  accepted audiences (required; when the section does not set it, the environment
  variable ``MLFLOW_STACK_IAP_PROJECT_NUMBER``, which a bundle's server reads from the
  Kubernetes Secret ``infra.sh`` writes);
* ``admins``: IAM principals, ``user:ana@example.com`` or
  ``serviceAccount:ci@p.iam.gserviceaccount.com``, separated by commas or new lines;
* ``keys_url``: where the verification keys are (default Google's); a test points it at
  its own key;
* ``load_balancer_ranges``: the CIDR ranges the load balancer's proxies reach the server
  from (Google Front Ends: https://cloud.google.com/load-balancing/docs/firewall-rules),
  separated by commas or new lines. When set, two callers inside the cluster, which the
  NetworkPolicy alone admits and which never pass IAP, are let in without an assertion, on
  a request that comes neither from those ranges nor with an ``X-Forwarded-For`` header:
  a ``GET /metrics`` (the Prometheus scraper, as the basic-auth admin for that path
  only) and the basic-auth admin with its password (the garbage collector deleting
  proxied artifacts). Unset, nothing but an assertion is accepted.
"""

import configparser
import ipaddress
import json
import logging
import os
import re
import secrets
import threading
import time
import urllib.request

from flask import Response, g, request
from google.auth import exceptions as google_exceptions
from google.auth import jwt
from werkzeug.datastructures import Authorization

from mlflow.environment_variables import MLFLOW_AUTH_CONFIG_PATH

ASSERTION_HEADER = "x-goog-iap-jwt-assertion"
ISSUER = "https://cloud.google.com/iap"
GOOGLE_KEYS_URL = "https://www.gstatic.com/iap/verify/public_key"
SECTION = "mlflow-stack-iap"
PROJECT_NUMBER_ENV = "MLFLOW_STACK_IAP_PROJECT_NUMBER"
# Google rotates the keys; a key ID not in the cache fetches them again, at most this often.
KEYS_REFRESH_SECONDS = 60
KEYS_MAX_AGE_SECONDS = 3600
CLOCK_SKEW_SECONDS = 30
PRINCIPAL_KINDS = ("user:", "serviceAccount:")

_logger = logging.getLogger(__name__)


class Settings:
    def __init__(self, project_number, admins, keys_url, load_balancer_ranges=()):
        if not re.fullmatch(r"[1-9][0-9]*", project_number or ""):
            raise ValueError(
                f"[{SECTION}] project_number must be the project's number, not {project_number!r}"
            )
        self.project_number = project_number
        self.admins = frozenset(admins)
        self.keys_url = keys_url
        self.load_balancer_ranges = tuple(ipaddress.ip_network(r) for r in load_balancer_ranges)
        self.audience = re.compile(
            rf"/projects/{project_number}/(global|regions/[a-z][a-z0-9-]*)/backendServices/[0-9]+"
        )

    @classmethod
    def read(cls, path=None):
        config = configparser.ConfigParser(interpolation=None)
        path = path or MLFLOW_AUTH_CONFIG_PATH.get()
        if not path or not config.read(path) or not config.has_section(SECTION):
            raise ValueError(f"MLFLOW_AUTH_CONFIG_PATH ({path}) has no [{SECTION}] section")
        section = config[SECTION]
        admins = []
        for principal in re.split(r"[,\s]+", section.get("admins", "").strip()):
            if not principal:
                continue
            kind = next((k for k in PRINCIPAL_KINDS if principal.startswith(k)), None)
            if kind is None:
                raise ValueError(
                    f"[{SECTION}] admins: {principal!r} is not user:EMAIL or serviceAccount:EMAIL"
                )
            admins.append(principal[len(kind) :].lower())
        project_number = section.get("project_number") or os.environ.get(PROJECT_NUMBER_ENV)
        ranges = [r for r in re.split(r"[,\s]+", section.get("load_balancer_ranges", "").strip()) if r]
        try:
            return cls(
                project_number, admins, section.get("keys_url", GOOGLE_KEYS_URL), ranges
            )
        except ValueError as error:
            raise ValueError(f"[{SECTION}] {error}") from None

    def inside_the_cluster(self, remote_addr, headers):
        """Whether a request comes from inside the cluster: the setting is on, no
        X-Forwarded-For header (Google's load balancers add one) and a peer outside the
        load balancer's ranges."""
        if not self.load_balancer_ranges or "X-Forwarded-For" in headers:
            return False
        try:
            peer = ipaddress.ip_address(remote_addr or "")
        except ValueError:
            return False
        return not any(peer in network for network in self.load_balancer_ranges)


class Keys:
    """Google's IAP keys (key ID to PEM public key), cached and fetched again when a token
    names a key ID the cache does not have."""

    def __init__(self, url):
        self.url = url
        self._lock = threading.Lock()
        self._keys = {}
        self._fetched = 0.0

    def get(self, key_id):
        with self._lock:
            now = time.monotonic()
            stale = now - self._fetched > KEYS_MAX_AGE_SECONDS
            missing = key_id not in self._keys and now - self._fetched > KEYS_REFRESH_SECONDS
            if stale or missing or not self._keys:
                with urllib.request.urlopen(self.url, timeout=10) as answer:
                    self._keys = json.load(answer)
                self._fetched = now
            return self._keys.get(key_id)


class Rejected(Exception):
    pass


_state_lock = threading.Lock()
_state = {}


def _settings_and_keys():
    with _state_lock:
        if not _state:
            settings = Settings.read()
            _state["settings"] = settings
            _state["keys"] = Keys(settings.keys_url)
        return _state["settings"], _state["keys"]


def verify(assertion, settings, keys):
    """The verified claims of an IAP assertion; Rejected with the reason otherwise."""
    if not assertion:
        raise Rejected(f"no {ASSERTION_HEADER} header")
    try:
        header = jwt.decode_header(assertion)
    except (ValueError, google_exceptions.GoogleAuthError) as error:
        raise Rejected(f"malformed assertion: {error}") from None
    if header.get("alg") != "ES256":
        raise Rejected(f"algorithm {header.get('alg')!r}, not ES256")
    key = keys.get(header.get("kid"))
    if key is None:
        raise Rejected(f"unknown key ID {header.get('kid')!r}")
    try:
        # Signature, iat and exp (with a little clock skew); the audience is checked below.
        claims = jwt.decode(
            assertion, certs={header["kid"]: key}, verify=True, clock_skew_in_seconds=CLOCK_SKEW_SECONDS
        )
    except (ValueError, google_exceptions.GoogleAuthError) as error:
        raise Rejected(str(error)) from None
    if claims.get("iss") != ISSUER:
        raise Rejected(f"issuer {claims.get('iss')!r}, not {ISSUER}")
    audience = claims.get("aud")
    if not isinstance(audience, str) or not settings.audience.fullmatch(audience):
        raise Rejected(f"audience {audience!r} is not a backend service of this project")
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise Rejected("no e-mail in the assertion")
    return claims


def _unauthorized(reason):
    _logger.info("IAP assertion refused: %s", reason)
    return Response(
        "Sign in through the stack's Identity-Aware Proxy: this request carried no valid "
        "IAP assertion.\n",
        status=401,
        mimetype="text/plain",
    )


def _user(email, is_admin):
    """The MLflow user of a verified e-mail, made on its first request; its admin flag
    follows the admins list."""
    from mlflow.exceptions import MlflowException
    from mlflow.server.auth import store

    if not store.has_user(email):
        try:
            store.create_user(email, secrets.token_urlsafe(32), is_admin=is_admin)
            return
        except MlflowException:
            # Another worker or replica made it first.
            if not store.has_user(email, use_primary=True):
                raise
    if store.get_user(email).is_admin != is_admin:
        store.update_user(email, is_admin=is_admin)


def _in_cluster_caller(settings):
    """The Authorization of an in-cluster caller the settings let in without an
    assertion (see ``load_balancer_ranges``), else None."""
    if request.headers.get(ASSERTION_HEADER) or not settings.inside_the_cluster(
        request.remote_addr, request.headers
    ):
        return None
    from mlflow.server.auth import auth_config, store

    admin = auth_config.admin_username
    if request.method == "GET" and request.path == "/metrics" and request.authorization is None:
        return Authorization("basic", {"username": admin, "password": ""})
    given = request.authorization
    if (
        given is not None
        and given.type == "basic"
        and given.username == admin
        and store.authenticate_user(admin, given.password or "")
    ):
        return given
    return None


def authenticate_request_iap():
    """MLflow's ``authorization_function``: an Authorization naming the verified e-mail, or
    a 401 response. MLflow calls it several times per request; the first verifies."""
    cached = g.get("mlflow_stack_iap_user")
    if cached is not None:
        return cached
    try:
        settings, keys = _settings_and_keys()
        inside = _in_cluster_caller(settings)
        if inside is not None:
            g.mlflow_stack_iap_user = inside
            return inside
        claims = verify(request.headers.get(ASSERTION_HEADER), settings, keys)
    except Rejected as rejected:
        return _unauthorized(rejected)
    email = claims["email"].lower()
    _user(email, email in settings.admins)
    authorization = Authorization("basic", {"username": email, "password": ""})
    g.mlflow_stack_iap_user = authorization
    return authorization
