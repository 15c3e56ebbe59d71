"""mlflow_stack_iap's settings: what the server refuses to start a request with."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src" / "image"))

import mlflow_stack_iap  # noqa: E402


def settings(tmp_path, section):
    path = tmp_path / "auth.ini"
    path.write_text("[mlflow]\ndefault_permission = READ\n" + section)
    return mlflow_stack_iap.Settings.read(str(path))


def test_admins_are_iam_principals(tmp_path):
    read = settings(
        tmp_path,
        "[mlflow-stack-iap]\nproject_number = 42\n"
        "admins = user:Ana@Example.com,\n  serviceAccount:ci@p.iam.gserviceaccount.com\n",
    )
    assert read.admins == {"ana@example.com", "ci@p.iam.gserviceaccount.com"}


@pytest.mark.parametrize("principal", ["ana@example.com", "group:ml@example.com", "domain:example.com"])
def test_a_principal_that_names_no_single_identity_is_refused(tmp_path, principal):
    with pytest.raises(ValueError, match="user:EMAIL or serviceAccount:EMAIL"):
        settings(tmp_path, f"[mlflow-stack-iap]\nproject_number = 42\nadmins = {principal}\n")


@pytest.mark.parametrize("section", ["", "[mlflow-stack-iap]\n", "[mlflow-stack-iap]\nproject_number = acme-ml\n"])
def test_without_a_project_number_nothing_is_accepted(tmp_path, monkeypatch, section):
    monkeypatch.delenv(mlflow_stack_iap.PROJECT_NUMBER_ENV, raising=False)
    with pytest.raises(ValueError):
        settings(tmp_path, section)


def test_the_project_number_can_come_from_the_environment(tmp_path, monkeypatch):
    # As a bundle's server has it: from the Kubernetes Secret infra.sh writes.
    monkeypatch.setenv(mlflow_stack_iap.PROJECT_NUMBER_ENV, "42")
    read = settings(tmp_path, "[mlflow-stack-iap]\nadmins = user:ana@example.com\n")
    assert read.project_number == "42"
    assert read.audience.fullmatch("/projects/42/global/backendServices/7")


@pytest.mark.parametrize("value", ["", "acme-ml", "042"])
def test_a_project_number_from_the_environment_is_checked_too(tmp_path, monkeypatch, value):
    monkeypatch.setenv(mlflow_stack_iap.PROJECT_NUMBER_ENV, value)
    with pytest.raises(ValueError):
        settings(tmp_path, "[mlflow-stack-iap]\n")


@pytest.mark.parametrize(
    ("audience", "accepted"),
    [
        ("/projects/42/global/backendServices/123", True),
        ("/projects/42/regions/us-central1/backendServices/123", True),
        ("/projects/421/global/backendServices/123", False),
        ("/projects/42/global/backendServices/123/x", False),
        ("/projects/42/apps/acme-ml", False),
        ("x/projects/42/global/backendServices/123", False),
    ],
)
def test_the_audience_is_a_backend_service_of_this_project(tmp_path, audience, accepted):
    read = settings(tmp_path, "[mlflow-stack-iap]\nproject_number = 42\n")
    assert bool(read.audience.fullmatch(audience)) is accepted


@pytest.mark.parametrize(
    ("ranges", "remote", "headers", "inside"),
    [
        ("35.191.0.0/16, 130.211.0.0/22", "10.8.0.12", {}, True),
        ("35.191.0.0/16, 130.211.0.0/22", "35.191.4.9", {}, False),
        ("35.191.0.0/16, 130.211.0.0/22", "130.211.1.1", {}, False),
        ("35.191.0.0/16, 130.211.0.0/22", "10.8.0.12", {"X-Forwarded-For": "1.2.3.4"}, False),
        ("35.191.0.0/16, 130.211.0.0/22", "not-an-address", {}, False),
        ("", "10.8.0.12", {}, False),
    ],
)
def test_inside_the_cluster_means_not_from_the_load_balancer(tmp_path, ranges, remote, headers, inside):
    read = settings(
        tmp_path, f"[mlflow-stack-iap]\nproject_number = 42\nload_balancer_ranges = {ranges}\n"
    )
    assert read.inside_the_cluster(remote, headers) is inside


def test_a_malformed_range_is_refused(tmp_path):
    with pytest.raises(ValueError, match="load_balancer_ranges|does not appear"):
        settings(tmp_path, "[mlflow-stack-iap]\nproject_number = 42\nload_balancer_ranges = 35.191/16\n")
