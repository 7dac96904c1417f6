"""The grafana role: Grafana's repository, the provisioning files and dashboards as code. Without
the install switch (CI: apt.grafana.com is unreachable) the role writes the provisioning files, the
dashboards and the repository definition (disabled: no key was fetched); these tests check that
every file parses, that every datasource a dashboard names is provisioned, and the modes."""

import json
from pathlib import PurePosixPath

import pytest
import yaml

from tests.infra.artifacts import (
    FLEET_CA,
    ROLES_DIR,
    apt_source_problems,
    is_held,
    package_version,
    role_defaults,
    unit_values,
)
from tests.infra.remote_http import request

pytestmark = pytest.mark.grafana

SOURCES = "/etc/apt/sources.list.d/grafana.sources"
KEYRING = "/etc/apt/keyrings/grafana.asc"
PROVISIONING = "/etc/grafana/provisioning"
PROVISIONING_FILES = (
    "datasources/ragfleet.yml",
    "dashboards/ragfleet.yml",
    "alerting/contact-points.yml",
    "alerting/notification-policies.yml",
)
# Datasource references that name no provisioned datasource on purpose.
BUILTIN_UIDS = {"-- Grafana --", "grafana", "-- Mixed --", "-- Dashboard --"}


def _group(manifest):
    return "grafana" if manifest["install"] else "root"


def _yaml(host, relative):
    return yaml.safe_load(host.file(f"{PROVISIONING}/{relative}").content_string)


@pytest.fixture(scope="module")
def dashboards(host):
    provider = _yaml(host, "dashboards/ragfleet.yml")["providers"][0]
    directory = provider["options"]["path"]
    files = host.check_output(f"find {directory} -maxdepth 1 -name '*.json' -print").split()
    assert files, f"no dashboard JSON in {directory}"
    return {path: host.file(path) for path in sorted(files)}


def test_repository_is_signed_by_its_own_key_and_enabled_only_with_it(host):
    problems = apt_source_problems(host, SOURCES, KEYRING)
    assert not problems, "\n".join(problems)
    content = host.file(SOURCES).content_string
    assert "URIs: https://apt.grafana.com" in content
    assert "Suites: stable" in content


def test_installed_pinned_and_held_exactly_when_the_repository_is_enabled(host, manifest):
    enabled = "Enabled: yes" in host.file(SOURCES).content_string
    assert enabled == manifest["install"]
    version = package_version(host, "grafana")
    if enabled:
        assert version == role_defaults("grafana")["grafana_version"]
        assert is_held(host, "grafana")
        assert host.service("grafana-server").is_running
    else:
        assert version is None


@pytest.mark.parametrize("relative", PROVISIONING_FILES)
def test_provisioning_file_parses_and_is_not_world_readable(host, manifest, relative):
    f = host.file(f"{PROVISIONING}/{relative}")
    assert (f.user, f.group, f.mode) == ("root", _group(manifest), 0o640)
    data = yaml.safe_load(f.content_string)
    assert data["apiVersion"] == 1


def test_datasources_have_distinct_uids_and_link_alertmanager(host):
    sources = {s["type"]: s for s in _yaml(host, "datasources/ragfleet.yml")["datasources"]}
    assert set(sources) == {"prometheus", "alertmanager"}
    assert sources["prometheus"]["uid"] != sources["alertmanager"]["uid"]
    assert sources["prometheus"]["jsonData"]["alertmanagerUid"] == sources["alertmanager"]["uid"]
    assert sources["prometheus"]["jsonData"]["manageAlerts"] is True
    assert [s["name"] for s in sources.values() if s.get("isDefault")] == ["Prometheus"]


def test_datasources_verify_prometheus_and_alertmanager_against_the_fleet_ca(host):
    """Both serve HTTPS under the fleet's certificates: Grafana reaches them at https URLs and
    verifies them with the fleet CA's certificate (Grafana takes it inline, not as a path)."""
    ca = host.file(FLEET_CA).content_string.strip()
    for source in _yaml(host, "datasources/ragfleet.yml")["datasources"]:
        assert source["url"].startswith("https://"), source["url"]
        assert source["jsonData"].get("tlsAuthWithCACert") is True, source["uid"]
        assert not source["jsonData"].get("tlsSkipVerify"), source["uid"]
        assert source["secureJsonData"]["tlsCACert"].strip() == ca, source["uid"]


def _datasource_uids(node):
    if isinstance(node, dict):
        source = node.get("datasource")
        if isinstance(source, dict) and "uid" in source:
            yield source["uid"]
        for value in node.values():
            yield from _datasource_uids(value)
    elif isinstance(node, list):
        for value in node:
            yield from _datasource_uids(value)


def test_every_dashboard_parses_and_names_provisioned_datasources_only(host, dashboards):
    provisioned = {s["uid"] for s in _yaml(host, "datasources/ragfleet.yml")["datasources"]}
    uids = []
    for path, f in dashboards.items():
        dashboard = json.loads(f.content_string)
        uids.append(dashboard["uid"])
        named = set(_datasource_uids(dashboard)) - BUILTIN_UIDS
        unknown = {uid for uid in named if not uid.startswith("$")} - provisioned
        assert not unknown, f"{PurePosixPath(path).name} names datasources {unknown}"
    assert len(uids) == len(set(uids)), f"dashboard UIDs repeat: {uids}"


def test_dashboards_are_the_roles_files_with_their_modes(host, manifest, dashboards):
    expected = sorted(p.name for p in (ROLES_DIR / "grafana/files/dashboards").glob("*.json"))
    assert sorted(PurePosixPath(p).name for p in dashboards) == expected
    for f in dashboards.values():
        assert (f.user, f.group, f.mode) == ("root", _group(manifest), 0o640)


def test_notification_policy_routes_to_defined_contact_points(host):
    points = {p["name"] for p in _yaml(host, "alerting/contact-points.yml")["contactPoints"]}
    policy = _yaml(host, "alerting/notification-policies.yml")["policies"][0]
    receivers = {policy["receiver"]} | {r["receiver"] for r in policy.get("routes", [])}
    assert receivers <= points, f"routes name undefined contact points {receivers - points}"


def test_admin_password_is_kept_from_other_users_and_is_not_the_default(host, manifest):
    env = host.file("/etc/grafana/ragfleet-admin.env")
    assert (env.user, env.group, env.mode) == ("root", _group(manifest), 0o640)
    values = dict(
        line.split("=", 1) for line in env.content_string.splitlines() if line[:1] not in "#"
    )
    assert values["GF_SECURITY_ADMIN_PASSWORD"] not in {"", "admin"}
    assert len(values["GF_SECURITY_ADMIN_PASSWORD"]) >= 12


def test_unit_drop_in_exactly_when_installed(host, manifest):
    drop_in = host.file("/etc/systemd/system/grafana-server.service.d/ragfleet.conf")
    assert drop_in.exists == manifest["install"]
    if manifest["install"]:
        content = drop_in.content_string
        assert "EnvironmentFile=/etc/grafana/ragfleet-admin.env" in content
        assert "NoNewPrivileges=true" in content
        assert "ProtectSystem=strict" in content
        # HTTPS with the host's fleet certificate, its key read through the TLS group
        assert "Environment=GF_SERVER_PROTOCOL=https" in content
        assert "Environment=GF_SERVER_CERT_FILE=/etc/ssl/ragfleet/host.pem" in content
        assert "Environment=GF_SERVER_CERT_KEY=/etc/ssl/ragfleet/host.key" in content
        assert unit_values(content, "SupplementaryGroups") == ["ragfleet-tls"]


def test_grafana_answers_over_https_only_where_installed(host, manifest):
    """Never ran here (no Grafana package reachable): for real monitoring hosts."""
    if not manifest["install"]:
        pytest.skip("Grafana is not installed (grafana_install: false): nothing listens")
    url = f"https://{manifest['address']}:3000/api/health"
    assert request(host, "GET", url, cafile=FLEET_CA).status == 200
    with pytest.raises(AssertionError, match="from the host failed"):
        request(host, "GET", url, cafile="/etc/ssl/certs/ca-certificates.crt", timeout=10)
