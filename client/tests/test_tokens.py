import json
import os
import stat
import threading
import time
import urllib.parse
import webbrowser

import pytest
import requests
from conftest import (
    AUTH_URI,
    DESKTOP_CLIENT_ID,
    DESKTOP_CLIENT_SECRET,
    NODE_SERVICE_ACCOUNT,
    TOKEN_URI,
    USER_EMAIL,
)
from google.auth import iam, jwt
from google.oauth2 import credentials as user_credentials

from mlflow_stack_auth import (
    DesktopUserTokens,
    ImpersonatedTokens,
    MetadataServerTokens,
    tokens_from_environment,
)

AUDIENCE = "1234-iap.apps.googleusercontent.com"


class Clock:
    """Real time plus an offset the test moves forward."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self):
        return time.time() + self.offset


def claims(token):
    return jwt.decode(token, verify=False)


def test_a_service_account_token_comes_from_the_metadata_server(google):
    token = MetadataServerTokens(AUDIENCE).token()
    assert claims(token)["aud"] == AUDIENCE
    assert claims(token)["email"] == NODE_SERVICE_ACCOUNT
    assert google.issued("metadata") == [("metadata", AUDIENCE)]


def test_a_token_is_reused_while_fresh_and_renewed_before_it_expires(google):
    google.lifetime = 20
    clock = google.clock = Clock()
    tokens = MetadataServerTokens(AUDIENCE, clock=clock)
    first = tokens.token()
    clock.offset = 14  # 6 of 20 seconds left: still more than a quarter
    assert tokens.token() == first
    assert len(google.issued("metadata")) == 1
    clock.offset = 15.5  # less than a quarter of its lifetime left: renewed, though valid
    second = tokens.token()
    assert second != first
    assert len(google.issued("metadata")) == 2
    assert claims(first)["exp"] > clock()  # the old one had not expired yet
    assert claims(second)["exp"] >= clock() + 19


def test_a_one_hour_token_is_renewed_five_minutes_before_it_expires(google):
    clock = google.clock = Clock()
    tokens = MetadataServerTokens(AUDIENCE, clock=clock)
    first = tokens.token()
    clock.offset = 3600 - 301
    assert tokens.token() == first
    clock.offset = 3600 - 299
    assert tokens.token() != first
    assert len(google.issued("metadata")) == 2


def test_a_token_is_never_handed_out_expired(google):
    google.lifetime = 20
    clock = google.clock = Clock()
    tokens = MetadataServerTokens(AUDIENCE, clock=clock)
    for offset in range(0, 60):
        clock.offset = offset
        token = tokens.token()
        # Every token handed out has at least a quarter of its lifetime left.
        assert claims(token)["exp"] - clock() >= 5 - 1
    assert 3 <= len(google.issued("metadata")) <= 5  # renewed, yet not on every call


def test_concurrent_callers_share_one_fetch(google):
    tokens = MetadataServerTokens(AUDIENCE)
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(tokens.token())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 1
    assert len(google.issued("metadata")) == 1


def test_metadata_server_requests_carry_the_metadata_flavor_header(google):
    # The stand-in answers 403 without the header, as the real server does.
    answer = requests.get(
        f"http://{os.environ['GCE_METADATA_HOST']}/computeMetadata/v1/instance/"
        "service-accounts/default/identity",
        params={"audience": AUDIENCE},
        timeout=5,
    )
    assert answer.status_code == 403
    MetadataServerTokens(AUDIENCE).token()
    assert google.issued("metadata")


def user_source_credentials(google):
    """Application default credentials of a person, as `gcloud auth application-default
    login` leaves them: a refresh token for the token endpoint."""
    refresh = "adc-refresh-token"
    google.refresh_tokens[refresh] = (DESKTOP_CLIENT_ID, USER_EMAIL)
    return user_credentials.Credentials(
        None,
        refresh_token=refresh,
        token_uri=TOKEN_URI,
        client_id=DESKTOP_CLIENT_ID,
        client_secret=DESKTOP_CLIENT_SECRET,
    )


def test_impersonation_makes_the_service_accounts_token(google, monkeypatch):
    from conftest import ADDRESS

    monkeypatch.setattr(
        iam,
        "_IAM_IDTOKEN_ENDPOINT",
        f"http://{ADDRESS}/v1/projects/-/serviceAccounts/{{}}:generateIdToken",
    )
    google.lifetime = 20
    clock = google.clock = Clock()
    tokens = ImpersonatedTokens(
        AUDIENCE, "ci@project.iam.gserviceaccount.com", user_source_credentials(google), clock=clock
    )
    first = tokens.token()
    assert claims(first)["aud"] == AUDIENCE
    assert claims(first)["email"] == "ci@project.iam.gserviceaccount.com"
    assert google.issued("generateIdToken") == [
        ("generateIdToken", "ci@project.iam.gserviceaccount.com", USER_EMAIL)
    ]
    clock.offset = 16
    tokens.token()
    assert len(google.issued("generateIdToken")) == 2


class Browser:
    """Stands in for the person at the browser: follows the authorization URL's redirect
    back to the flow's local server with a code the token endpoint will accept."""

    def __init__(self, google):
        self.google = google
        self.opened = []

    def open(self, url, new=0, autoraise=True):
        self.opened.append(url)
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        assert url.startswith(AUTH_URI)
        assert query["client_id"] == DESKTOP_CLIENT_ID
        assert "openid" in query["scope"].split()
        code = "code-" + str(len(self.opened))
        self.google.codes[code] = DESKTOP_CLIENT_ID
        redirect = f"{query['redirect_uri']}?code={code}&state={query['state']}"
        threading.Thread(target=requests.get, args=(redirect,), kwargs={"timeout": 10}).start()
        return True


def desktop_tokens(cache_path, clock=time.time):
    return DesktopUserTokens(
        DESKTOP_CLIENT_ID,
        DESKTOP_CLIENT_SECRET,
        cache_path=cache_path,
        auth_uri=AUTH_URI,
        token_uri=TOKEN_URI,
        clock=clock,
    )


def test_a_person_signs_in_once_and_the_refresh_token_is_cached_private(google, tmp_path, monkeypatch):
    # oauthlib insists on https for the token endpoint; the stand-in speaks http.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    browser = Browser(google)
    monkeypatch.setattr(webbrowser, "get", lambda using=None: browser)
    cache = tmp_path / "config" / "mlflow-stack" / "iap.json"
    token = desktop_tokens(cache).token()
    assert claims(token)["email"] == USER_EMAIL
    assert claims(token)["aud"] == DESKTOP_CLIENT_ID
    assert len(browser.opened) == 1
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700
    cached = json.loads(cache.read_text())
    assert set(cached) == {"client_id", "refresh_token"}
    assert cached["refresh_token"] in google.refresh_tokens

    # A later process signs in from the cache, without a browser.
    monkeypatch.setattr(webbrowser, "get", lambda using=None: pytest.fail("browser opened"))
    again = desktop_tokens(cache).token()
    assert claims(again)["email"] == USER_EMAIL
    assert [r[0] for r in google.issued("refresh_token")] == ["refresh_token"]


def test_a_persons_token_is_renewed_from_the_refresh_token_before_it_expires(google, tmp_path):
    google.lifetime = 20
    refresh = "cached-refresh-token"
    google.refresh_tokens[refresh] = (DESKTOP_CLIENT_ID, USER_EMAIL)
    cache = tmp_path / "iap.json"
    cache.write_text(json.dumps({"client_id": DESKTOP_CLIENT_ID, "refresh_token": refresh}))
    clock = google.clock = Clock()
    tokens = desktop_tokens(cache, clock)
    first = tokens.token()
    clock.offset = 10
    assert tokens.token() == first
    clock.offset = 16
    tokens.token()
    assert len(google.issued("refresh_token")) == 2


def test_a_revoked_refresh_token_is_an_error_not_a_silent_anonymous_request(google, tmp_path):
    cache = tmp_path / "iap.json"
    cache.write_text(json.dumps({"client_id": DESKTOP_CLIENT_ID, "refresh_token": "revoked"}))
    with pytest.raises(Exception, match="invalid_grant"):
        desktop_tokens(cache).token()


def test_the_environment_chooses_the_credential_kind():
    assert isinstance(tokens_from_environment({"MLFLOW_IAP_AUDIENCE": AUDIENCE}), MetadataServerTokens)
    impersonated = tokens_from_environment(
        {"MLFLOW_IAP_AUDIENCE": AUDIENCE, "MLFLOW_IAP_IMPERSONATE": "ci@p.iam.gserviceaccount.com"}
    )
    assert isinstance(impersonated, ImpersonatedTokens)
    person = tokens_from_environment(
        {
            "MLFLOW_IAP_DESKTOP_CLIENT_ID": DESKTOP_CLIENT_ID,
            "MLFLOW_IAP_DESKTOP_CLIENT_SECRET": DESKTOP_CLIENT_SECRET,
            "XDG_CONFIG_HOME": "/nonexistent",
        }
    )
    assert isinstance(person, DesktopUserTokens)
    with pytest.raises(RuntimeError, match="MLFLOW_IAP_AUDIENCE"):
        tokens_from_environment({})
    with pytest.raises(RuntimeError, match="MLFLOW_IAP_DESKTOP_CLIENT_SECRET"):
        tokens_from_environment({"MLFLOW_IAP_DESKTOP_CLIENT_ID": DESKTOP_CLIENT_ID})
