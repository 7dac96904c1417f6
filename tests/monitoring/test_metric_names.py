"""Every metric a rule or a dashboard reads exists: in a real scrape of ragfleet (and of
Prometheus and Alertmanager themselves), in a committed list of a pinned exporter's metrics, or as
the output of a recording rule. A typo or a renamed metric fails here instead of leaving an alert
silent."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.monitoring.conftest import (
    DASHBOARDS_DIR,
    METRIC_LISTS_DIR,
    RULES_DIR,
    Rendered,
    Service,
    Stack,
    alert_rules,
    load_yaml,
    recording_rules,
)
from tests.monitoring.promql import family, metric_names

# Series Prometheus makes itself for every target and alert.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS"}
NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LISTS = ["dcgm-exporter", "tensorrt-llm", "redis_exporter", "node_exporter", "milvus"]


def _scraped(text: str) -> set[str]:
    """Family and sample names of an exposition, including families with no sample yet."""
    names = set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))
    for metric_family in text_string_to_metric_families(text):
        names.add(metric_family.name)
        names.update(sample.name for sample in metric_family.samples)
    return names


def _listed() -> set[str]:
    return {
        line.strip()
        for path in METRIC_LISTS_DIR.glob("*.txt")
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }


def _dashboard_expressions() -> dict[str, str]:
    expressions = {}
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                expressions[f"{path.name} / {panel['title']} / {target['refId']}"] = target["expr"]
        for variable in dashboard["templating"]["list"]:
            query = variable["query"]["query"]
            expressions[f"{path.name} / ${variable['name']}"] = query.removeprefix(
                "label_values("
            ).rsplit(",", 1)[0]
    return expressions


@pytest.fixture(scope="module")
def known(ragfleet_service: Service, monitoring_stack: Stack, rendered: Rendered) -> set[str]:
    own = {
        base: _scraped(monitoring_stack.get(f"{base}/metrics", timeout=10).text)
        for base in (monitoring_stack.prometheus, monitoring_stack.alertmanager)
    }
    recorded = {
        rule["record"]
        for rule in recording_rules(
            [*RULES_DIR.glob("*.yml"), rendered.prometheus("ragfleet_expectations.yml")]
        )
    }
    return (
        _scraped(ragfleet_service.scrape)
        | set().union(*own.values())
        | _listed()
        | recorded
        | SYNTHETIC
    )


def _unknown(expressions: dict[str, str], known: set[str]) -> dict[str, set[str]]:
    unknown = {}
    for where, expr in expressions.items():
        missing = {n for n in metric_names(expr) if n not in known and family(n) not in known}
        if missing:
            unknown[where] = missing
    return unknown


def test_every_metric_in_a_rule_exists(known: set[str]) -> None:
    expressions = {
        f"{rule['alert']} ({rule['labels']['severity']})": rule["expr"] for rule in alert_rules()
    }
    expressions |= {
        rule["record"]: rule["expr"] for rule in recording_rules(sorted(RULES_DIR.glob("*.yml")))
    }
    assert len(expressions) > 50
    assert _unknown(expressions, known) == {}


def test_every_metric_in_a_dashboard_exists(known: set[str]) -> None:
    expressions = _dashboard_expressions()
    assert len(expressions) > 50
    assert _unknown(expressions, known) == {}


def test_the_ragfleet_metrics_used_are_the_ones_the_service_exports(
    ragfleet_service: Service,
) -> None:
    """ragfleet_* names are ours: they must be in the scrape, not merely in a list (except the
    expectations and the textfile metrics, which are not the service's)."""
    scraped = _scraped(ragfleet_service.scrape)
    not_the_service = {
        "ragfleet_profile_gpu_count",
        "ragfleet_http_inflight_limit",
        "ragfleet_backup_last_success_timestamp_seconds",
    }
    used = set()
    for expr in [r["expr"] for r in alert_rules()] + list(_dashboard_expressions().values()):
        used |= {n for n in metric_names(expr) if n.startswith("ragfleet_")}
    assert used - not_the_service - scraped == set()
    histogram_series = {n for n in used - not_the_service if family(n) != n}
    assert histogram_series <= scraped  # the _bucket and _count series really exist


@pytest.mark.parametrize("name", LISTS)
def test_each_list_says_which_version_and_where_it_was_read(name: str) -> None:
    lines = (METRIC_LISTS_DIR / f"{name}.txt").read_text().splitlines()
    header = " ".join(line for line in lines if line.startswith("#"))
    assert lines[0].startswith("#")
    assert re.search(r"\d+\.\d+\.\d+|commit [0-9a-f]{40}", header), "no version or commit"
    assert "obtained" in header.lower()
    names = [line for line in lines if line and not line.startswith("#")]
    assert names
    assert all(NAME.match(n) for n in names)
    assert len(names) == len(set(names))


def test_lists_hold_only_their_own_exporter_prefixes() -> None:
    prefixes = {
        "dcgm-exporter": ("DCGM_FI_",),
        "tensorrt-llm": ("trtllm_",),
        "redis_exporter": ("redis_", "go_", "process_", "promhttp_"),
        "node_exporter": ("node_", "go_", "process_", "promhttp_"),
        "milvus": ("milvus_",),
    }
    for name, allowed in prefixes.items():
        path = Path(METRIC_LISTS_DIR / f"{name}.txt")
        names = [n for n in path.read_text().splitlines() if n and not n.startswith("#")]
        assert all(n.startswith(allowed) for n in names), name


def test_rules_do_not_depend_on_fields_geforce_cards_lack() -> None:
    for rule in alert_rules():
        names = metric_names(rule["expr"])
        assert not any(n.startswith("DCGM_FI_PROF_") or "_ECC_" in n for n in names), rule["alert"]
    for rule in recording_rules(sorted(RULES_DIR.glob("*.yml"))):
        assert "DCGM_FI_PROF_" not in rule["expr"]
    assert load_yaml(RULES_DIR / "gpu.yml")  # the GPU rules exist at all
