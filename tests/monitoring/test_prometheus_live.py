"""Debian's Prometheus and Alertmanager, started on loopback with the configuration the role
renders, load every rule without evaluation errors, scrape a running ragfleet service, deliver
alerts, and answer only over HTTPS to clients that trust the CA and know the password."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ragfleet.hardware import load_profile
from tests.monitoring.conftest import RULES_DIR, Stack, load_yaml, wait_for
from tests.support.pki import TestCA


def _rule_groups(stack: Stack) -> list[dict[str, Any]]:
    response = stack.get(f"{stack.prometheus}/api/v1/rules")
    response.raise_for_status()
    groups: list[dict[str, Any]] = response.json()["data"]["groups"]
    return groups


def _evaluated(group: dict[str, Any]) -> bool:
    return all(not rule["lastEvaluation"].startswith("0001") for rule in group["rules"])


def test_every_rule_loads_and_evaluates_without_error(monitoring_stack: Stack) -> None:
    expected = {
        group["name"] for path in RULES_DIR.glob("*.yml") for group in load_yaml(path)["groups"]
    } | {"ragfleet-expectations"}
    groups = wait_for(
        lambda: (g := _rule_groups(monitoring_stack)) and all(_evaluated(x) for x in g) and g,
        "every rule group evaluated",
    )
    assert {group["name"] for group in groups} == expected
    broken = [
        (rule["name"], rule["health"], rule.get("lastError", ""))
        for group in groups
        for rule in group["rules"]
        if rule["health"] != "ok" or rule.get("lastError")
    ]
    assert broken == []
    # Go's server logs each refused handshake (the plaintext and foreign-CA tests) as an error
    errors = [
        line
        for line in monitoring_stack.prometheus_log.read_text().splitlines()
        if "level=error" in line and "TLS handshake error" not in line
    ]
    assert errors == []


def _query(stack: Stack, expr: str) -> list[dict[str, Any]]:
    response = stack.get(f"{stack.prometheus}/api/v1/query", params={"query": expr})
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def test_prometheus_scrapes_the_running_service(monitoring_stack: Stack) -> None:
    up = wait_for(
        lambda: _query(monitoring_stack, 'up{job="ragfleet", instance="gpu-1"} == 1'),
        "ragfleet target up",
    )
    assert up[0]["metric"]["profile"] == "medium"
    # a sample the service really exported reached the TSDB with the target's labels
    built = wait_for(
        lambda: _query(monitoring_stack, 'ragfleet_build_info{instance="gpu-1"}'),
        "ragfleet_build_info scraped",
    )
    assert built[0]["metric"]["job"] == "ragfleet"
    # targets of hosts that do not exist here are scraped too, and down
    wait_for(
        lambda: _query(monitoring_stack, 'up{job="ragfleet", instance="gpu-2"} == 0'),
        "gpu-2 scraped and down",
    )


def test_the_expectations_are_recorded_per_host(monitoring_stack: Stack) -> None:
    series = wait_for(
        lambda: _query(monitoring_stack, "ragfleet_profile_gpu_count"), "expectations recorded"
    )
    counts = {s["metric"]["instance"]: s["value"][1] for s in series}
    profiles = {"gpu-1": "small", "gpu-2": "large"}
    assert counts == {host: str(load_profile(p).gpu.min_count) for host, p in profiles.items()}


def _alerts(stack: Stack, *filters: str) -> list[dict[str, Any]]:
    response = stack.get(
        f"{stack.alertmanager}/api/v2/alerts", params=[("filter", f) for f in filters]
    )
    response.raise_for_status()
    alerts: list[dict[str, Any]] = response.json()
    return alerts


def test_the_watchdog_reaches_alertmanager_and_its_receiver(monitoring_stack: Stack) -> None:
    alerts = wait_for(
        lambda: _alerts(monitoring_stack, 'alertname="Watchdog"'), "Watchdog in Alertmanager"
    )
    assert alerts[0]["labels"]["deployment"] == "test"  # the external label
    assert [r["name"] for r in alerts[0]["receivers"]] == ["deadmansswitch"]


def _post(stack: Stack, alerts: list[dict[str, Any]]) -> None:
    ends = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    for alert in alerts:
        alert["endsAt"] = ends
    response = httpx.post(
        f"{stack.alertmanager}/api/v2/alerts",
        json=alerts,
        auth=stack.auth,
        verify=stack.tls,
        timeout=5,
    )
    response.raise_for_status()


def test_a_down_host_inhibits_its_service_alerts(monitoring_stack: Stack) -> None:
    critical = {"severity": "critical"}
    _post(
        monitoring_stack,
        [
            {"labels": {"alertname": "HostDown", "job": "node", **critical, "instance": "db-9"}},
            {"labels": {"alertname": "RedisDown", "job": "redis", **critical, "instance": "db-9"}},
            {"labels": {"alertname": "RedisDown", "job": "redis", **critical, "instance": "db-8"}},
        ],
    )

    def states() -> dict[tuple[str, str], str]:
        found = _alerts(monitoring_stack, 'instance=~"db-8|db-9"')
        result = {
            (a["labels"]["alertname"], a["labels"]["instance"]): a["status"]["state"] for a in found
        }
        return result if len(result) == 3 and "unprocessed" not in result.values() else {}

    assert wait_for(states, "alerts processed") == {
        ("HostDown", "db-9"): "active",
        ("RedisDown", "db-9"): "suppressed",
        ("RedisDown", "db-8"): "active",
    }


def test_critical_inhibits_the_warning_of_the_same_alert(monitoring_stack: Stack) -> None:
    labels = {"alertname": "GpuTemperatureHigh", "instance": "gpu-9", "gpu": "0"}
    _post(
        monitoring_stack,
        [
            {"labels": {**labels, "severity": "critical"}},
            {"labels": {**labels, "severity": "warning"}},
        ],
    )

    def states() -> dict[str, str]:
        found = _alerts(monitoring_stack, 'instance="gpu-9"')
        result = {a["labels"]["severity"]: a["status"]["state"] for a in found}
        return result if len(result) == 2 and "unprocessed" not in result.values() else {}

    assert wait_for(states, "alerts processed") == {"critical": "active", "warning": "suppressed"}


def test_prometheus_and_alertmanager_refuse_requests_without_the_password(
    monitoring_stack: Stack,
) -> None:
    tls = monitoring_stack.tls
    for base in (monitoring_stack.prometheus, monitoring_stack.alertmanager):
        assert httpx.get(f"{base}/-/ready", verify=tls, timeout=5).status_code == 401, base
        wrong = ("ragfleet", "not-the-password")
        response = httpx.get(f"{base}/-/ready", auth=wrong, verify=tls, timeout=5)
        assert response.status_code == 401, base


def test_prometheus_and_alertmanager_refuse_plaintext(monitoring_stack: Stack) -> None:
    """The same port speaks TLS only: an HTTP request, password and all, gets Go's 400 and no
    data (the password crossed in clear only in this test)."""
    for base in (monitoring_stack.prometheus, monitoring_stack.alertmanager):
        plain = base.replace("https://", "http://", 1)
        response = httpx.get(f"{plain}/-/ready", auth=monitoring_stack.auth, timeout=5)
        assert response.status_code == 400, base
        assert "HTTP request to an HTTPS server" in response.text, response.text


def test_a_client_of_another_ca_fails_the_handshake(
    monitoring_stack: Stack, tmp_path: Path
) -> None:
    other = ssl.create_default_context(cafile=TestCA(tmp_path, "another CA").ca_file)
    for base in (monitoring_stack.prometheus, monitoring_stack.alertmanager):
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{base}/-/ready", auth=monitoring_stack.auth, verify=other, timeout=5)


def test_prometheus_reaches_itself_and_alertmanager_over_tls(monitoring_stack: Stack) -> None:
    """Its own scrapes and the alerts it sends go over HTTPS verified against the CA."""
    for job in ("prometheus", "alertmanager"):
        wait_for(lambda job=job: _query(monitoring_stack, f'up{{job="{job}"}} == 1'), f"{job} up")
    targets = monitoring_stack.get(f"{monitoring_stack.prometheus}/api/v1/targets")
    targets.raise_for_status()
    urls = {
        t["labels"]["job"]: t["scrapeUrl"]
        for t in targets.json()["data"]["activeTargets"]
        if t["labels"]["job"] in {"prometheus", "alertmanager"}
    }
    assert set(urls) == {"prometheus", "alertmanager"}, urls
    assert all(url.startswith("https://") for url in urls.values()), urls
    managers = monitoring_stack.get(f"{monitoring_stack.prometheus}/api/v1/alertmanagers")
    active = [a["url"] for a in managers.json()["data"]["activeAlertmanagers"]]
    assert active, "Prometheus knows no Alertmanager"
    assert all(url.startswith("https://") for url in active), active
