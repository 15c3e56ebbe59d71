"""ID tokens for IAP, fetched through Google's auth library and renewed before they expire."""

import json
import os
import threading
import time
from pathlib import Path

import google.auth
import google.auth.transport.requests
from google.auth import impersonated_credentials, jwt
from google.oauth2 import credentials as user_credentials
from google.oauth2 import id_token

GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
# The desktop flow asks for the user's identity only: the ID token carries the e-mail.
USER_SCOPES = ["openid", "https://www.googleapis.com/auth/userinfo.email"]
IMPERSONATION_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
# A token is renewed once less than this share of its lifetime is left, and at the latest
# five minutes before it expires: Google's one-hour tokens at 55 minutes, a 20-second
# token at 15 seconds.
RENEW_SHARE = 0.25
RENEW_AT_MOST_SECONDS = 300


class TokenSource:
    """One identity's ID token, fetched on first use and again before it expires.

    Thread-safe: concurrent callers share one fetch. Subclasses implement ``_fetch``.
    """

    def __init__(self, clock=time.time):
        self._clock = clock
        self._lock = threading.Lock()
        self._token = None
        self._renew_at = 0.0
        self.fetches = 0

    def token(self):
        """A token valid for a while yet: the cached one, or a new one."""
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                token = self._fetch(google.auth.transport.requests.Request())
                claims = jwt.decode(token, verify=False)
                issued, expires = float(claims["iat"]), float(claims["exp"])
                margin = min(RENEW_AT_MOST_SECONDS, (expires - issued) * RENEW_SHARE)
                self._token, self._renew_at = token, expires - margin
                self.fetches += 1
            return self._token

    def _fetch(self, request):
        raise NotImplementedError


class MetadataServerTokens(TokenSource):
    """A service account's token from the environment, as Google's auth library finds it:
    a key file named by GOOGLE_APPLICATION_CREDENTIALS, else the metadata server of GKE,
    Compute Engine or Cloud Run."""

    def __init__(self, audience, clock=time.time):
        super().__init__(clock)
        self.audience = audience
        self._credentials = None

    def _fetch(self, request):
        if self._credentials is None:
            self._credentials = id_token.fetch_id_token_credentials(self.audience, request)
        self._credentials.refresh(request)
        return self._credentials.token


class ImpersonatedTokens(TokenSource):
    """A service account's token, made by impersonating it with the caller's application
    default credentials (which need roles/iam.serviceAccountTokenCreator on it)."""

    def __init__(self, audience, service_account, source_credentials=None, clock=time.time):
        super().__init__(clock)
        self.audience = audience
        self.service_account = service_account
        self._source = source_credentials
        self._credentials = None

    def _fetch(self, request):
        if self._credentials is None:
            source = self._source
            if source is None:
                source, _ = google.auth.default(scopes=IMPERSONATION_SCOPES)
            target = impersonated_credentials.Credentials(
                source_credentials=source,
                target_principal=self.service_account,
                target_scopes=IMPERSONATION_SCOPES,
            )
            self._credentials = impersonated_credentials.IDTokenCredentials(
                target, target_audience=self.audience, include_email=True
            )
        self._credentials.refresh(request)
        return self._credentials.token


def config_dir():
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mlflow-stack"


class DesktopUserTokens(TokenSource):
    """A person's token through Google's desktop OAuth flow. The browser sign-in happens
    once; its refresh token is cached (mode 0600) and renews the ID token from then on."""

    def __init__(
        self,
        client_id,
        client_secret,
        cache_path=None,
        auth_uri=GOOGLE_AUTH_URI,
        token_uri=GOOGLE_TOKEN_URI,
        open_browser=True,
        clock=time.time,
    ):
        super().__init__(clock)
        self.client_id = client_id
        self.client_secret = client_secret
        self.cache_path = Path(cache_path or config_dir() / f"iap-{client_id}.json")
        self.auth_uri = auth_uri
        self.token_uri = token_uri
        self.open_browser = open_browser
        self._credentials = None

    def _fetch(self, request):
        if self._credentials is None:
            refresh_token = self._cached_refresh_token()
            if refresh_token is None:
                self._credentials = self._sign_in()
                self._cache(self._credentials.refresh_token)
                if self._credentials.id_token:
                    return self._credentials.id_token
            else:
                self._credentials = user_credentials.Credentials(
                    None,
                    refresh_token=refresh_token,
                    token_uri=self.token_uri,
                    client_id=self.client_id,
                    client_secret=self.client_secret,
                    scopes=USER_SCOPES,
                )
        self._credentials.refresh(request)
        if not self._credentials.id_token:
            raise RuntimeError(
                f"the token endpoint {self.token_uri} answered without an ID token; "
                f"sign in again by deleting {self.cache_path}"
            )
        return self._credentials.id_token

    def _sign_in(self):
        from google_auth_oauthlib.flow import InstalledAppFlow

        flow = InstalledAppFlow.from_client_config(
            {
                "installed": {
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "auth_uri": self.auth_uri,
                    "token_uri": self.token_uri,
                }
            },
            scopes=USER_SCOPES,
        )
        return flow.run_local_server(port=0, open_browser=self.open_browser)

    def _cached_refresh_token(self):
        try:
            with open(self.cache_path, encoding="utf-8") as cache:
                return json.load(cache)["refresh_token"]
        except (FileNotFoundError, KeyError, ValueError):
            return None

    def _cache(self, refresh_token):
        if not refresh_token:
            return
        directory = self.cache_path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = directory / f".{self.cache_path.name}.{os.getpid()}"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as cache:
            json.dump({"client_id": self.client_id, "refresh_token": refresh_token}, cache)
        os.replace(partial, self.cache_path)


def tokens_from_environment(environ=os.environ):
    """The token source the environment asks for (see the package's documentation)."""
    desktop_id = environ.get("MLFLOW_IAP_DESKTOP_CLIENT_ID")
    if desktop_id:
        secret = environ.get("MLFLOW_IAP_DESKTOP_CLIENT_SECRET")
        if not secret:
            raise RuntimeError(
                "MLFLOW_IAP_DESKTOP_CLIENT_ID is set without MLFLOW_IAP_DESKTOP_CLIENT_SECRET: "
                "set both, from the desktop OAuth client your administrator created"
            )
        return DesktopUserTokens(desktop_id, secret)
    audience = environ.get("MLFLOW_IAP_AUDIENCE")
    if not audience:
        raise RuntimeError(
            "MLFLOW_TRACKING_AUTH=iap needs MLFLOW_IAP_AUDIENCE (the OAuth client ID of the "
            "stack's IAP, for a service account) or MLFLOW_IAP_DESKTOP_CLIENT_ID and "
            "MLFLOW_IAP_DESKTOP_CLIENT_SECRET (for a person)"
        )
    service_account = environ.get("MLFLOW_IAP_IMPERSONATE")
    if service_account:
        return ImpersonatedTokens(audience, service_account)
    return MetadataServerTokens(audience)
