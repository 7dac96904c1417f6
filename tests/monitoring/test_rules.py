"""The alerting and recording rules: promtool accepts them, every alert is unit-tested both ways,
and every alert says what it is and points at its runbook section."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest

from tests.monitoring.conftest import (
    RULE_TESTS_DIR,
    RULES_DIR,
    RUNBOOKS,
    alert_rules,
    load_yaml,
    recording_rules,
    run,
    tool,
)

SEVERITIES = {"critical", "warning", "none"}
# A Watchdog that can be quiet is broken: it has a firing test only.
ALWAYS_FIRING = {"Watchdog"}


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def _runbook_anchors() -> set[str]:
    return {
        _anchor(line.lstrip("#"))
        for line in RUNBOOKS.read_text().splitlines()
        if line.startswith("## ")
    }


def _alert_tests() -> list[dict[str, Any]]:
    """Every alert_rule_test case of every test file, with the file name under ``_file``."""
    return [
        {**case, "_file": path.name}
        for path in sorted(RULE_TESTS_DIR.glob("*.yml"))
        for group in load_yaml(path)["tests"]
        for case in group.get("alert_rule_test", [])
    ]


def test_promtool_accepts_every_rule_file() -> None:
    files = sorted(str(p) for p in RULES_DIR.glob("*.yml"))
    assert len(files) >= 8
    result = run([tool("promtool"), "check", "rules", *files])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    files = sorted(p.name for p in RULE_TESTS_DIR.glob("*.yml"))
    result = run([tool("promtool"), "test", "rules", *files], cwd=RULE_TESTS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files)


def test_every_rule_file_has_a_test_file_that_loads_it() -> None:
    tested = {
        rule_file.removeprefix("../rules/")
        for path in RULE_TESTS_DIR.glob("*.yml")
        for rule_file in load_yaml(path)["rule_files"]
    }
    assert tested == {p.name for p in RULES_DIR.glob("*.yml")}


def test_every_alert_rule_fires_in_a_test_with_its_labels_and_annotations() -> None:
    """Each rule, not just each name: an alert with a critical and a warning rule (or several
    windows) needs a firing test for every one, matched by the rule's own labels."""
    fired: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in _alert_tests():
        fired[case["alertname"]].extend(case["exp_alerts"])
    missing = []
    for rule in alert_rules():
        matching = [
            alert
            for alert in fired[rule["alert"]]
            if rule["labels"].items() <= alert["exp_labels"].items()
        ]
        if not matching:
            missing.append((rule["alert"], rule["labels"]))
        for alert in matching:
            assert set(alert["exp_annotations"]) == set(rule["annotations"]), rule["alert"]
    assert missing == [], "alert rules without a test where they fire"


def test_every_alert_has_a_test_where_it_stays_quiet() -> None:
    quiet = {case["alertname"] for case in _alert_tests() if case["exp_alerts"] == []}
    names = {rule["alert"] for rule in alert_rules()}
    assert names - quiet == ALWAYS_FIRING
    assert quiet <= names  # no test of an alert that does not exist


def test_tests_only_name_existing_alerts() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    assert {case["alertname"] for case in _alert_tests()} <= names


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: f"{r['alert']}-{r['labels']}")
def test_alert_has_severity_summary_description_with_value_and_runbook(
    rule: dict[str, Any],
) -> None:
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url"}
    assert "$value" in annotations["description"]
    anchor = _anchor(rule["alert"])
    assert annotations["runbook_url"] == f"docs/runbooks.md#{anchor}"
    assert anchor in _runbook_anchors(), f"docs/runbooks.md has no section ## {rule['alert']}"


def test_runbooks_have_no_section_for_an_alert_that_does_not_exist() -> None:
    alerts = {_anchor(rule["alert"]) for rule in alert_rules()}
    assert _runbook_anchors() == alerts


def test_recording_rules_follow_level_metric_operations_naming() -> None:
    for rule in recording_rules(sorted(RULES_DIR.glob("*.yml"))):
        level, metric, operations = rule["record"].split(":")
        assert level in {"job", "instance"}, rule["record"]
        assert metric.startswith(("ragfleet_", "trtllm_")), rule["record"]
        assert operations, rule["record"]


def test_alert_names_are_unique_per_severity_and_window() -> None:
    seen = set()
    for rule in alert_rules():
        key = (rule["alert"], tuple(sorted(rule["labels"].items())))
        assert key not in seen, key
        seen.add(key)


def test_slo_alerts_use_paired_long_and_short_windows() -> None:
    burn = [r for r in alert_rules() if r["alert"].endswith("BudgetBurn")]
    windows = {(r["labels"]["long_window"], r["labels"]["short_window"]) for r in burn}
    assert windows == {("1h", "5m"), ("6h", "30m"), ("1d", "2h"), ("3d", "6h")}
    for rule in burn:
        long, short = rule["labels"]["long_window"], rule["labels"]["short_window"]
        assert f"ratio_rate{long} >" in rule["expr"]
        assert f"ratio_rate{short} >" in rule["expr"]
        paging = long in {"1h", "6h"}
        assert rule["labels"]["severity"] == ("critical" if paging else "warning")
