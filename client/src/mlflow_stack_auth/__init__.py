"""Keeps MLflow clients signed in to a stack behind Identity-Aware Proxy.

Installed, the package registers the request auth provider ``iap`` with MLflow (entry
point group ``mlflow.request_auth_provider``). With ``MLFLOW_TRACKING_AUTH=iap``, every
request MLflow sends carries ``Authorization: Bearer <ID token>``, an ID token that is
fetched once and fetched again before it expires, so a job that runs for hours never
sends a stale one.

Which identity signs in, from the environment:

* ``MLFLOW_IAP_DESKTOP_CLIENT_ID`` and ``MLFLOW_IAP_DESKTOP_CLIENT_SECRET`` set: a
  person, through Google's desktop OAuth flow (a browser opens once); the refresh token
  is cached in ``$XDG_CONFIG_HOME/mlflow-stack/`` (``~/.config/mlflow-stack/``), readable
  by the user only. The ID token's audience is the desktop client.
* Otherwise a service account, for the audience ``MLFLOW_IAP_AUDIENCE`` (the OAuth
  client ID of the stack's IAP): the metadata server's on GKE, Compute Engine and Cloud
  Run (or a key file named by ``GOOGLE_APPLICATION_CREDENTIALS``), or, with
  ``MLFLOW_IAP_IMPERSONATE`` set to a service account's e-mail, that account
  impersonated with the caller's application default credentials.
"""

from mlflow_stack_auth.tokens import (
    DesktopUserTokens,
    ImpersonatedTokens,
    MetadataServerTokens,
    TokenSource,
    tokens_from_environment,
)
from mlflow_stack_auth.provider import BearerAuth, IapRequestAuthProvider

__all__ = [
    "BearerAuth",
    "DesktopUserTokens",
    "IapRequestAuthProvider",
    "ImpersonatedTokens",
    "MetadataServerTokens",
    "TokenSource",
    "tokens_from_environment",
]
