"""The prometheus role: Prometheus and Alertmanager from Debian with the generated configuration,
ragfleet's rules loaded without errors, every target it was given up, and both answering only over
HTTPS under the host's fleet certificate, to clients that know the password."""

import pytest

from tests.infra.artifacts import (
    FLEET_CA,
    alertmanager_url,
    monitoring_auth,
    prometheus_url,
    unit_values,
)
from tests.infra.remote_http import request

pytestmark = pytest.mark.prometheus

# The system's CA bundle: the fleet CA is not in it.
SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"


def _get(host, url: str) -> dict:
    return request(host, "GET", url, headers=monitoring_auth(host), cafile=FLEET_CA).json()


@pytest.mark.parametrize("name", ["prometheus", "prometheus-alertmanager"])
def test_service_active_and_enabled(host, name):
    service = host.service(name)
    assert service.is_running
    assert service.is_enabled


def test_configuration_and_rules_check(host):
    result = host.run("promtool check config /etc/prometheus/prometheus.yml")
    assert result.rc == 0, result.stdout + result.stderr
    result = host.run("amtool check-config /etc/prometheus/alertmanager.yml")
    assert result.rc == 0, result.stdout + result.stderr


def test_rules_loaded_without_errors(host):
    groups = _get(host, f"{prometheus_url(host)}/api/v1/rules")["data"]["groups"]
    assert groups, "Prometheus loaded no rule groups"
    broken = [
        f"{group['name']}/{rule['name']}: {rule['lastError']}"
        for group in groups
        for rule in group["rules"]
        if rule.get("lastError")
    ]
    assert not broken, broken


def test_every_target_is_up(host):
    """Scrapes happen every scrape_interval: wait for one round, then all must be up."""
    targets = _wait_for_targets(host)
    down = [
        f"{t['labels']['job']}@{t['scrapeUrl']}: {t['lastError']}"
        for t in targets
        if t["health"] != "up"
    ]
    assert not down, down
    # Prometheus scrapes itself and Alertmanager as any client does: over HTTPS
    own = [t["scrapeUrl"] for t in targets if t["labels"]["job"] in {"prometheus", "alertmanager"}]
    assert len(own) == 2, own
    assert all(url.startswith("https://") for url in own), own


def test_alertmanager_gossip_port_is_closed(host):
    assert not host.socket("tcp://0.0.0.0:9094").is_listening
    assert not host.socket("tcp://:::9094").is_listening


def _wait_for_targets(host, rounds: int = 30) -> list[dict]:
    targets: list[dict] = []
    for _ in range(rounds):
        data = _get(host, f"{prometheus_url(host)}/api/v1/targets?state=active")["data"]
        targets = data["activeTargets"]
        if targets and all(t["health"] != "unknown" for t in targets):
            break
        host.run("sleep 2")
    assert targets, "Prometheus has no targets"
    return targets


def test_prometheus_and_alertmanager_refuse_requests_without_the_password(host):
    for base in (prometheus_url(host), alertmanager_url(host)):
        assert request(host, "GET", f"{base}/-/ready", cafile=FLEET_CA).status == 401, base
        response = request(
            host, "GET", f"{base}/-/ready", headers=monitoring_auth(host), cafile=FLEET_CA
        )
        assert response.status == 200, base


def test_prometheus_sends_alerts_to_alertmanager_over_https(host):
    active = _get(host, f"{prometheus_url(host)}/api/v1/alertmanagers")["data"]
    urls = [a["url"] for a in active["activeAlertmanagers"]]
    assert urls, "Prometheus knows no Alertmanager"
    assert all(url.startswith("https://") for url in urls), urls


def test_plaintext_is_refused(host):
    """The ports speak TLS only: a plain HTTP request, even with the password, gets Go's 400."""
    for base in (prometheus_url(host), alertmanager_url(host)):
        plain = base.replace("https://", "http://", 1)
        response = request(host, "GET", f"{plain}/-/ready", headers=monitoring_auth(host))
        assert response.status == 400, base
        assert "HTTP request to an HTTPS server" in response.text, response.text


def test_a_client_without_the_fleet_ca_fails_the_handshake(host):
    for base in (prometheus_url(host), alertmanager_url(host)):
        with pytest.raises(AssertionError, match="CERTIFICATE_VERIFY_FAILED"):
            request(host, "GET", f"{base}/-/ready", cafile=SYSTEM_CAS, timeout=10)


@pytest.mark.parametrize("name", ["prometheus", "prometheus-alertmanager"])
def test_units_read_the_key_through_the_tls_group_only(host, name):
    drop_in = host.file(f"/etc/systemd/system/{name}.service.d/ragfleet-tls.conf")
    assert unit_values(drop_in.content_string, "SupplementaryGroups") == ["ragfleet-tls"]
    assert host.check_output(f"systemctl show -p User --value {name}") == "prometheus"
    # the running process really is in the group (a private user namespace would refuse it)
    pid = host.check_output(f"systemctl show -p MainPID --value {name}")
    gid = host.check_output("getent group ragfleet-tls | cut -d: -f3")
    groups = host.check_output(f"grep '^Groups:' /proc/{pid}/status").split()[1:]
    assert gid in groups, f"{name} (pid {pid}) runs with groups {groups}, not ragfleet-tls ({gid})"
    web = host.file("/etc/prometheus/web.yml")
    assert (web.user, web.group, web.mode) == ("root", "prometheus", 0o640)
