"""Alertmanager's configuration as the prometheus role renders it with its defaults: amtool accepts
it and routes each kind of alert to the receiver its severity calls for."""

from __future__ import annotations

import pytest

from tests.monitoring.conftest import PROMETHEUS_ROLE, Rendered, load_yaml, run, tool


def test_amtool_accepts_the_rendered_configuration(rendered: Rendered) -> None:
    result = run([tool("amtool"), "check-config", str(rendered.prometheus("alertmanager.yml"))])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=HostDown", "severity=critical", "instance=gpu-1"], "pager"),
        (["alertname=RagfleetErrorBudgetBurn", "severity=critical", "long_window=1h"], "pager"),
        (["alertname=RagfleetErrorBudgetBurn", "severity=warning", "long_window=3d"], "ticket"),
        (["alertname=GpuXidError", "severity=warning", "instance=gpu-2"], "ticket"),
        (["alertname=Watchdog", "severity=none"], "deadmansswitch"),
        (["alertname=SomethingNew", "severity=info"], "default"),
        (["alertname=NoSeverity"], "default"),
    ],
)
def test_routes_by_severity(rendered: Rendered, labels: list[str], receiver: str) -> None:
    result = run(
        [
            tool("amtool"),
            "config",
            "routes",
            "test",
            f"--config.file={rendered.prometheus('alertmanager.yml')}",
            f"--verify.receivers={receiver}",
            *labels,
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [receiver]


def test_receivers_come_from_the_role_variables(rendered: Rendered) -> None:
    config = load_yaml(rendered.prometheus("alertmanager.yml"))
    defaults = load_yaml(PROMETHEUS_ROLE / "defaults" / "main.yml")
    assert config["receivers"] == defaults["prometheus_alertmanager_receivers"]
    assert (
        config["route"]["receiver"]
        == defaults["prometheus_alertmanager_route_receivers"]["default"]
    )
    assert config["route"]["group_by"] == defaults["prometheus_alertmanager_group_by"]


def test_a_down_host_inhibits_every_other_alert_on_it(rendered: Rendered) -> None:
    rules = load_yaml(rendered.prometheus("alertmanager.yml"))["inhibit_rules"]
    host_down = next(r for r in rules if r["source_matchers"] == ['alertname = "HostDown"'])
    assert host_down["equal"] == ["instance"]
    assert host_down["target_matchers"] == ['alertname != "HostDown"']
    critical = next(r for r in rules if r["source_matchers"] == ['severity = "critical"'])
    assert critical["target_matchers"] == ['severity = "warning"']
    assert critical["equal"] == ["alertname", "instance"]
