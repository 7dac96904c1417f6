"""An alert followed end to end on a converged host (the `alerts` Molecule scenario): stop the
service, and RagfleetTargetDown goes pending, then firing (its `for: 2m`), reaches Alertmanager,
and resolves once the service is back. Disruptive: run it only against a host you may stop."""

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.infra.artifacts import FLEET_CA, alertmanager_url, monitoring_auth, prometheus_url
from tests.infra.remote_http import request

pytestmark = pytest.mark.alerts

ALERT = "RagfleetTargetDown"


def _prometheus_state(host) -> str | None:
    """pending, firing, or None when Prometheus has no such alert."""
    alerts = request(
        host,
        "GET",
        f"{prometheus_url(host)}/api/v1/alerts",
        headers=monitoring_auth(host),
        cafile=FLEET_CA,
    ).json()["data"]["alerts"]
    states = {a["state"] for a in alerts if a["labels"].get("alertname") == ALERT}
    return "firing" if "firing" in states else ("pending" if states else None)


def _active_at(host) -> float:
    """When Prometheus first saw the alert's expression true (its `for` counts from there)."""
    alerts = request(
        host,
        "GET",
        f"{prometheus_url(host)}/api/v1/alerts",
        headers=monitoring_auth(host),
        cafile=FLEET_CA,
    ).json()["data"]["alerts"]
    stamps = [a["activeAt"] for a in alerts if a["labels"].get("alertname") == ALERT]
    assert stamps, f"{ALERT} is not active"
    return datetime.fromisoformat(stamps[0].replace("Z", "+00:00")).timestamp()


def _in_alertmanager(host) -> bool:
    url = f"{alertmanager_url(host)}/api/v2/alerts?active=true&filter=alertname%3D%22{ALERT}%22"
    alerts: list[dict[str, Any]] = request(
        host, "GET", url, headers=monitoring_auth(host), cafile=FLEET_CA
    ).json()
    return any(a["status"]["state"] == "active" for a in alerts)


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Seconds it took; fails with `what` after timeout_s."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if condition():
            return time.monotonic() - started
        time.sleep(2)
    pytest.fail(f"{what}: not within {timeout_s:.0f} s")


@pytest.fixture
def stopped_service(host) -> Iterator[None]:
    """The service stopped for the test, and started again whatever happens."""
    host.run("systemctl stop ragfleet")
    try:
        yield
    finally:
        host.run("systemctl start ragfleet")


def test_no_target_down_alert_while_the_service_runs(host):
    assert host.service("ragfleet").is_running
    _wait(lambda: _prometheus_state(host) is None, 60, f"{ALERT} still active before the test")


def test_target_down_goes_pending_firing_and_resolves(host, stopped_service):
    pending_after = _wait(
        lambda: _prometheus_state(host) == "pending", 60, f"{ALERT} pending after the stop"
    )
    # for: 2m after the first failed evaluation, plus one evaluation interval.
    firing_after = _wait(
        lambda: _prometheus_state(host) == "firing", 200, f"{ALERT} firing after pending"
    )
    active_for = time.time() - _active_at(host)
    _wait(lambda: _in_alertmanager(host), 90, f"{ALERT} active in Alertmanager")
    assert active_for >= 110, f"firing {active_for:.0f} s after it became active: for: ignored?"
    print(
        f"{ALERT}: pending {pending_after:.0f} s after the stop, firing {firing_after:.0f} s later"
    )

    host.run("systemctl start ragfleet")
    _wait(lambda: _prometheus_state(host) is None, 120, f"{ALERT} resolved in Prometheus")
    _wait(lambda: not _in_alertmanager(host), 120, f"{ALERT} resolved in Alertmanager")
