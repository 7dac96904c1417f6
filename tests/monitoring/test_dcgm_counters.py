"""The DCGM counters file the exporters role mounts into dcgm-exporter collects every DCGM field an
alert, a recording rule or a dashboard reads: a field left out of it never reaches Prometheus, so
GpuThrottled could not fire and DcgmFieldMissing would fire on every healthy host."""

from __future__ import annotations

import json
from pathlib import Path

from tests.monitoring.conftest import (
    DASHBOARDS_DIR,
    METRIC_LISTS_DIR,
    ROLES,
    RULES_DIR,
    alert_rules,
    load_yaml,
    recording_rules,
)
from tests.monitoring.promql import metric_names

COUNTERS = ROLES / "exporters" / "files" / "dcgm-counters.csv"
TYPES = {"gauge", "counter", "label"}


def _rows() -> list[list[str]]:
    return [
        [field.strip() for field in line.split(",", 2)]
        for line in COUNTERS.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _collected() -> set[str]:
    return {row[0] for row in _rows()}


def _dcgm_fields_read() -> dict[str, set[str]]:
    """DCGM fields by the rule or panel that reads them."""
    reads = {}
    for rule in alert_rules():
        reads[f"alert {rule['alert']}"] = metric_names(rule["expr"])
    for rule in recording_rules(sorted(RULES_DIR.glob("*.yml"))):
        reads[f"record {rule['record']}"] = metric_names(rule["expr"])
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                reads[f"{path.name} / {panel['title']}"] = metric_names(target["expr"])
    return {
        where: {name for name in names if name.startswith("DCGM_FI_")}
        for where, names in reads.items()
        if any(name.startswith("DCGM_FI_") for name in names)
    }


def test_rows_have_a_field_a_type_and_a_help_text() -> None:
    rows = _rows()
    assert rows
    for row in rows:
        assert len(row) == 3, row
        assert row[0].startswith("DCGM_FI_"), row
        assert " " not in row[0], row
        assert row[1] in TYPES, row
        assert row[2], row
    names = [row[0] for row in rows]
    assert len(names) == len(set(names)), "a field is listed twice"


def test_every_dcgm_field_an_alert_or_dashboard_reads_is_collected() -> None:
    reads = _dcgm_fields_read()
    assert reads, "no rule or dashboard reads a DCGM field: the collection below is vacuous"
    missing = {where: sorted(names - _collected()) for where, names in reads.items()}
    missing = {where: names for where, names in missing.items() if names}
    assert not missing, f"read but not in {COUNTERS.name}: {missing}"


def test_throttling_counters_of_gpu_throttled_are_collected_as_counters() -> None:
    types = {row[0]: row[1] for row in _rows()}
    assert types["DCGM_FI_DEV_POWER_VIOLATION"] == "counter"
    assert types["DCGM_FI_DEV_THERMAL_VIOLATION"] == "counter"


def test_every_default_field_of_the_pinned_exporter_stays_collected() -> None:
    """The committed list of dcgm-exporter's default fields (above its comment on the two
    violation counters) is a subset: ragfleet's file adds to the defaults, never drops one."""
    lines = (METRIC_LISTS_DIR / "dcgm-exporter.txt").read_text().splitlines()
    defaults = set()
    for line in lines:
        if line.startswith("# Listed but commented out"):
            break
        if line and not line.startswith("#"):
            defaults.add(line.strip())
    assert defaults, "no default field found in the committed list"
    assert defaults <= _collected(), sorted(defaults - _collected())


def test_no_field_geforce_cards_lack() -> None:
    assert not [n for n in _collected() if n.startswith("DCGM_FI_PROF_") or "_ECC_" in n]


def test_counters_file_is_the_one_the_role_installs() -> None:
    tasks = load_yaml(ROLES / "exporters" / "tasks" / "configure.yml")
    # The module arguments of each task: a copy's or template's `src` among them.
    arguments = [args for task in tasks for args in task.values() if isinstance(args, dict)]
    sources = {args.get("src") for args in arguments}
    assert COUNTERS.name in sources
    assert Path(COUNTERS).is_file()
