"""Grafana as code, checked offline (no Grafana server installs here): the dashboards match a
schema of the fields we use, carry the instance and profile variables, point at provisioned
datasources, and every PromQL expression in them passes promtool."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec
import pytest

from tests.monitoring.conftest import DASHBOARDS_DIR, Rendered, load_yaml, run, tool

DASHBOARDS = sorted(DASHBOARDS_DIR.glob("*.json"))


class DatasourceRef(msgspec.Struct):
    type: str
    uid: str


class Target(msgspec.Struct):
    refId: str
    expr: str
    datasource: DatasourceRef
    legendFormat: str = ""


class GridPos(msgspec.Struct):
    h: int
    w: int
    x: int
    y: int


class Panel(msgspec.Struct):
    id: int
    type: str
    title: str
    gridPos: GridPos
    datasource: DatasourceRef | None = None
    targets: list[Target] = []


class VariableQuery(msgspec.Struct):
    query: str
    refId: str


class Variable(msgspec.Struct):
    name: str
    type: str
    datasource: DatasourceRef
    query: VariableQuery
    includeAll: bool
    multi: bool


class Templating(msgspec.Struct):
    variables: list[Variable] = msgspec.field(name="list")


class Dashboard(msgspec.Struct):
    uid: str
    title: str
    tags: list[str]
    schemaVersion: int
    templating: Templating
    panels: list[Panel]


def _load(path: Path) -> Dashboard:
    return msgspec.json.decode(path.read_bytes(), type=Dashboard)


def test_the_five_dashboards_exist() -> None:
    assert {p.stem for p in DASHBOARDS} == {
        "ragfleet-service",
        "ragfleet-llm",
        "ragfleet-gpus",
        "ragfleet-datastores",
        "ragfleet-hosts",
    }


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_matches_the_schema_and_has_instance_and_profile(path: Path) -> None:
    dashboard = _load(path)
    assert dashboard.uid == path.stem
    assert "ragfleet" in dashboard.tags
    variables = {v.name: v for v in dashboard.templating.variables}
    assert set(variables) == {"profile", "instance"}
    assert "profile" in variables["profile"].query.query
    assert '$profile"' in variables["instance"].query.query  # instance follows profile
    ids = [panel.id for panel in dashboard.panels]
    assert len(ids) == len(set(ids))
    queries = [t for panel in dashboard.panels for t in panel.targets]
    assert queries, "a dashboard without queries"
    for panel in dashboard.panels:
        assert panel.gridPos.x + panel.gridPos.w <= 24, panel.title
        if panel.type != "row":
            assert panel.targets, panel.title
            assert len({t.refId for t in panel.targets}) == len(panel.targets), panel.title


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_panels_follow_the_instance_variable(path: Path) -> None:
    dashboard = _load(path)
    for panel in dashboard.panels:
        for target in panel.targets:
            # recorded SLO ratios are per job: the only series without the two labels
            if ":ratio_rate" in target.expr:
                continue
            assert '"$instance"' in target.expr, (panel.title, target.expr)


def _datasource_uids(rendered: Rendered) -> dict[str, str]:
    datasources = load_yaml(rendered.grafana("datasources.yml"))["datasources"]
    return {d["uid"]: d["type"] for d in datasources}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_datasource_reference_resolves(path: Path, rendered: Rendered) -> None:
    provisioned = _datasource_uids(rendered)
    dashboard = _load(path)
    refs = [v.datasource for v in dashboard.templating.variables]
    refs += [p.datasource for p in dashboard.panels if p.datasource is not None]
    refs += [t.datasource for p in dashboard.panels for t in p.targets]
    for ref in refs:
        assert provisioned.get(ref.uid) == ref.type, ref


def _as_rule_expression(expr: str) -> str:
    """What Grafana sends to Prometheus, near enough for a syntax check."""
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


def test_every_dashboard_expression_passes_promtool(tmp_path: Path) -> None:
    rules = []
    for path in DASHBOARDS:
        for panel in _load(path).panels:
            for target in panel.targets:
                rules.append(
                    {
                        "record": f"dashboard:{path.stem.replace('-', '_')}:{len(rules)}",
                        "expr": _as_rule_expression(target.expr),
                    }
                )
    assert len(rules) > 40
    rule_file = tmp_path / "dashboards.yml"
    rule_file.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = run([tool("promtool"), "check", "rules", str(rule_file)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_a_broken_expression_would_be_caught(tmp_path: Path) -> None:
    """The check above can fail: promtool rejects a dashboard-style typo."""
    rule_file = tmp_path / "broken.yml"
    broken = _as_rule_expression('sum(rate(x{instance=~"$instance"}[$__rate_interval])')
    rule_file.write_text(
        json.dumps({"groups": [{"name": "g", "rules": [{"record": "a:b", "expr": broken}]}]})
    )
    assert run([tool("promtool"), "check", "rules", str(rule_file)]).returncode != 0


def test_prometheus_rules_are_shown_in_grafana_not_copied(rendered: Rendered) -> None:
    """Data-source-managed alerting: Grafana reads the Prometheus rules and the Alertmanager alerts;
    no Grafana alert rule is provisioned, so no rule exists twice."""
    prometheus = next(
        d
        for d in load_yaml(rendered.grafana("datasources.yml"))["datasources"]
        if d["type"] == "prometheus"
    )
    assert prometheus["jsonData"]["manageAlerts"] is True
    assert prometheus["jsonData"]["alertmanagerUid"] in _datasource_uids(rendered)
    provisioned = [load_yaml(p) for p in rendered.root.glob("grafana/*.yml")]
    assert not any("groups" in doc for doc in provisioned)  # no Grafana-managed rule files
