"""The prometheus role: Prometheus and Alertmanager from Debian with the generated configuration,
ragfleet's rules loaded without errors, and every target it was given up."""

import pytest

from tests.infra.artifacts import alertmanager_url, monitoring_auth, prometheus_url
from tests.infra.remote_http import request

pytestmark = pytest.mark.prometheus


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
    groups = request(
        host, "GET", f"{prometheus_url(host)}/api/v1/rules", headers=monitoring_auth(host)
    ).json()["data"]["groups"]
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


def test_alertmanager_gossip_port_is_closed(host):
    assert not host.socket("tcp://0.0.0.0:9094").is_listening
    assert not host.socket("tcp://:::9094").is_listening


def _wait_for_targets(host, rounds: int = 30) -> list[dict]:
    targets: list[dict] = []
    for _ in range(rounds):
        data = request(
            host,
            "GET",
            f"{prometheus_url(host)}/api/v1/targets?state=active",
            headers=monitoring_auth(host),
        ).json()["data"]
        targets = data["activeTargets"]
        if targets and all(t["health"] != "unknown" for t in targets):
            break
        host.run("sleep 2")
    assert targets, "Prometheus has no targets"
    return targets


def test_prometheus_and_alertmanager_refuse_requests_without_the_password(host):
    for base in (prometheus_url(host), alertmanager_url(host)):
        assert request(host, "GET", f"{base}/-/ready").status == 401, base
        assert request(host, "GET", f"{base}/-/ready", headers=monitoring_auth(host)).status == 200
