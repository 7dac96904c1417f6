"""The prometheus and grafana roles: what their templates render to for an inventory like
Terraform's, what their preflight refuses, and how their tasks validate and restart. The
conventions every role keeps (layout, variables, task files) are checked in tests/ansible."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.ansible.plays import bare_ansible_env
from tests.monitoring.conftest import (
    ANSIBLE_PLAYBOOK,
    GRAFANA_ROLE,
    MONITORING_PASSWORD,
    PROMETHEUS_ROLE,
    Pki,
    Ports,
    Rendered,
    load_yaml,
    run,
    tool,
)


def test_configuration_is_validated_before_it_replaces_the_live_one() -> None:
    tasks = {task["name"]: task for task in load_yaml(PROMETHEUS_ROLE / "tasks" / "configure.yml")}
    validators = {
        name: next(iter(v for k, v in task.items() if k.startswith("ansible.builtin.")))
        for name, task in tasks.items()
    }
    assert validators["Write prometheus.yml"]["validate"] == "promtool check config %s"
    assert validators["Write Alertmanager's configuration"]["validate"] == "amtool check-config %s"
    assert validators["Copy the alerting and recording rules"]["validate"] == (
        "promtool check rules %s"
    )


def test_rendered_prometheus_config_passes_promtool(rendered: Rendered) -> None:
    result = run([tool("promtool"), "check", "config", str(rendered.prometheus("prometheus.yml"))])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def _targets(rendered: Rendered) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """job -> [(target address, labels)]."""
    config = load_yaml(rendered.prometheus("prometheus.yml"))
    return {
        job["job_name"]: [
            (target, static.get("labels", {}))
            for static in job["static_configs"]
            for target in static["targets"]
        ]
        for job in config["scrape_configs"]
    }


def _instances(targets: list[tuple[str, dict[str, str]]]) -> set[str]:
    return {labels["instance"] for _, labels in targets}


def test_scrape_targets_follow_the_inventory_groups(rendered: Rendered, ports: Ports) -> None:
    targets = _targets(rendered)
    assert set(targets) == {
        "prometheus",
        "alertmanager",
        "ragfleet",
        "node",
        "redis",
        "milvus",
        "trtllm",
        "dcgm",
    }
    assert targets["ragfleet"] == [
        (f"127.0.0.1:{ports.ragfleet}", {"instance": "gpu-1", "profile": "medium"}),
        (f"127.0.0.2:{ports.ragfleet}", {"instance": "gpu-2", "profile": "large"}),
    ]
    # node_exporter on every host; the others only on their group's hosts
    assert _instances(targets["node"]) == {"gpu-1", "gpu-2", "db-1", "db-2", "mon-1", "gw-1"}
    for job in ("ragfleet", "trtllm", "dcgm"):
        assert _instances(targets[job]) == {"gpu-1", "gpu-2"}
    assert _instances(targets["redis"]) == {"db-1", "db-2"}
    # Milvus Lite (db-2) has no metrics endpoint: only the standalone Milvus is scraped
    assert _instances(targets["milvus"]) == {"db-1"}
    assert _instances(targets["prometheus"]) == {"mon-1"}
    config = load_yaml(rendered.prometheus("prometheus.yml"))
    by_job = {job["job_name"]: job for job in config["scrape_configs"]}
    assert by_job["trtllm"]["metrics_path"] == "/metrics/llm"
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        f"127.0.0.1:{ports.alertmanager}"
    ]
    assert config["global"]["external_labels"] == {"deployment": "test"}


def test_expectations_come_from_each_hosts_hardware_profile(rendered: Rendered) -> None:
    path = rendered.prometheus("ragfleet_expectations.yml")
    result = run([tool("promtool"), "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    rules = load_yaml(path)["groups"][0]["rules"]
    gpus = {
        r["labels"]["instance"]: (r["labels"]["profile"], r["expr"])
        for r in rules
        if r["record"] == "ragfleet_profile_gpu_count"
    }
    # medium promises one GPU, large eight (hardware_profiles/*.yaml, gpu.min_count)
    assert gpus == {"gpu-1": ("medium", "vector(1)"), "gpu-2": ("large", "vector(8)")}
    limits = {r["labels"]["instance"]: r["expr"] for r in rules if r["record"].endswith("_limit")}
    assert limits == {"gpu-1": "vector(64)", "gpu-2": "vector(64)"}


def test_alertmanager_runs_without_gossip_and_units_are_hardened(rendered: Rendered) -> None:
    arguments = rendered.prometheus("prometheus-alertmanager.default").read_text()
    assert "--cluster.listen-address= " in arguments or arguments.rstrip().endswith(
        '--cluster.listen-address="'
    )
    hardening = rendered.prometheus("hardening.conf").read_text()
    for setting in ("NoNewPrivileges=true", "ProtectSystem=strict", "ProtectHome=true"):
        assert setting in hardening


def test_web_config_serves_https_with_the_given_certificate(rendered: Rendered, pki: Pki) -> None:
    web = rendered.prometheus("web.yml")
    config = load_yaml(web)
    assert config["tls_server_config"] == {
        "cert_file": str(pki.server.cert_file),
        "key_file": str(pki.server.key_file),
        "min_version": "TLS12",
    }
    assert set(config["basic_auth_users"]) == {"ragfleet"}
    # a renewed certificate changes the file, and the file's change restarts both services
    assert "# certificates: test-fingerprint" in web.read_text()
    # promtool loads the certificate and key as Prometheus would (the role's validate step)
    result = run([tool("promtool"), "check", "web-config", str(web)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_reaches_itself_and_alertmanager_over_https(
    rendered: Rendered, pki: Pki
) -> None:
    config = load_yaml(rendered.prometheus("prometheus.yml"))
    client = {
        "scheme": "https",
        "tls_config": {"ca_file": str(pki.ca.ca_file)},
        "basic_auth": {"username": "ragfleet", "password": MONITORING_PASSWORD},
    }
    alertmanagers = config["alerting"]["alertmanagers"]
    assert [{k: a[k] for k in client} for a in alertmanagers] == [client]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name in ("prometheus", "alertmanager"):
        assert {k: jobs[name][k] for k in client} == client, name
    # the services' scrapes follow their own switch (prometheus_ragfleet_tls_ca_file, empty here)
    assert "scheme" not in jobs["ragfleet"]


def test_units_join_the_tls_group_and_external_urls_say_https(rendered: Rendered) -> None:
    drop_in = rendered.prometheus("tls.conf").read_text()
    # Debian's prometheus.service has PrivateUsers=true, which leaves no room for the group
    assert "[Service]\nSupplementaryGroups=ragfleet-tls\nPrivateUsers=false\n" in drop_in
    for name in ("prometheus.default", "prometheus-alertmanager.default"):
        arguments = rendered.prometheus(name).read_text()
        assert "--web.external-url=https://mon-1:" in arguments, arguments
    tasks = {t["name"]: t for t in load_yaml(PROMETHEUS_ROLE / "tasks" / "configure.yml")}
    tls = tasks["Let Prometheus and Alertmanager read the TLS key"]
    assert tls["ansible.builtin.template"]["dest"].endswith("/ragfleet-tls.conf")
    assert tls["notify"] == "Restart {{ item }}"
    probe = tasks["Start Prometheus and Alertmanager and wait until they are ready"]["vars"]
    assert all(
        url.startswith("{{ _prometheus_scheme }}://") for url in probe["_common_start_ready_urls"]
    )
    assert probe["_common_start_ready_ca_file"] == "{{ prometheus_tls_ca_file }}"


# Each role's preflight from its first check that needs no facts on (the platform checks need
# systemd as PID 1), with the vault's values.
PREFLIGHT = {
    "prometheus": (
        "Assert the listen addresses are ADDRESS:PORT",
        {
            "prometheus_basic_auth_password": MONITORING_PASSWORD,
            "prometheus_basic_auth_password_bcrypt": "$2b$04$" + "a" * 53,
            "prometheus_hardware_profiles_dir": str(PROMETHEUS_ROLE),
        },
    ),
    "grafana": (
        "Assert the admin password is set and is not Grafana's default",
        {"grafana_admin_password": "vault-admin-password-2026"},
    ),
}


def _preflight(tmp_path: Path, role: Path, **variables: str) -> str:
    """``role``'s preflight with ``variables``: '' when it passes, else Ansible's output."""
    start_at, vault = PREFLIGHT[role.name]
    play = [
        {
            "name": "Preflight",
            "hosts": "localhost",
            "gather_facts": False,
            "vars_files": [str(role / "defaults" / "main.yml"), str(role / "vars" / "main.yml")],
            "tasks": [{"ansible.builtin.import_tasks": str(role / "tasks" / "preflight.yml")}],
        }
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    (tmp_path / "extra.json").write_text(json.dumps({**vault, **variables}))
    result = run(
        [
            *(ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", "play.yml", "-e", "@extra.json"),
            *("--start-at-task", start_at),
        ],
        cwd=tmp_path,
        env=bare_ansible_env(tmp_path),
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


TLS = {
    "cert_file": "/etc/ssl/ragfleet/host.pem",
    "key_file": "/etc/ssl/ragfleet/host.key",
    "ca_file": "/etc/ssl/ragfleet/ca.pem",
}


def test_prometheus_preflight_refuses_plain_http_beyond_loopback(tmp_path: Path) -> None:
    private = {
        "prometheus_web_listen_address": "10.20.3.31:9090",
        "prometheus_alertmanager_web_listen_address": "10.20.3.31:9093",
    }
    tls = {f"prometheus_tls_{name}": path for name, path in TLS.items()}
    role = PROMETHEUS_ROLE
    refused = _preflight(tmp_path, role, **private)
    assert "prometheus_web_listen_address 10.20.3.31:9090 would serve the basic-auth" in refused
    assert "password in clear" in refused
    assert _preflight(tmp_path, role, **private, **tls) == ""
    without_ca = {**tls, "prometheus_tls_ca_file": ""}
    refused = _preflight(tmp_path, role, **private, **without_ca)
    assert "prometheus_tls_ca_file must be given together" in refused
    assert "CA ''" in refused
    assert _preflight(tmp_path, role) == ""  # loopback, as the role's defaults listen


def test_grafana_preflight_refuses_plain_http_beyond_loopback(tmp_path: Path) -> None:
    private = {"grafana_http_addr": "10.20.3.31"}
    tls = {f"grafana_tls_{name}": path for name, path in TLS.items()}
    role = GRAFANA_ROLE
    refused = _preflight(tmp_path, role, **private)
    assert "Grafana on 10.20.3.31 (grafana_http_addr) would take logins in clear" in refused
    assert _preflight(tmp_path, role, **private, **tls) == ""
    without_key = {**tls, "grafana_tls_key_file": ""}
    refused = _preflight(tmp_path, role, **private, **without_key)
    assert "grafana_tls_cert_file and grafana_tls_key_file must be given together" in refused
    assert "key ''" in refused
    assert _preflight(tmp_path, role) == ""


def test_grafana_provisioning_renders_from_variables(rendered: Rendered) -> None:
    datasources = {
        d["uid"]: d for d in load_yaml(rendered.grafana("datasources.yml"))["datasources"]
    }
    assert datasources["prometheus"]["jsonData"]["manageAlerts"] is True
    assert datasources["prometheus"]["jsonData"]["alertmanagerUid"] == "alertmanager"
    assert datasources["alertmanager"]["type"] == "alertmanager"
    contact_points = load_yaml(rendered.grafana("contact_points.yml"))["contactPoints"]
    defaults = load_yaml(GRAFANA_ROLE / "defaults" / "main.yml")
    assert [c["name"] for c in contact_points] == [
        c["name"] for c in defaults["grafana_contact_points"]
    ]
    assert contact_points[0]["receivers"] == defaults["grafana_contact_points"][0]["receivers"]
    policy = load_yaml(rendered.grafana("notification_policies.yml"))["policies"][0]
    assert policy["receiver"] == defaults["grafana_notification_default_contact_point"]
    assert policy["routes"] == defaults["grafana_notification_routes"]
    provider = load_yaml(rendered.grafana("dashboards.yml"))["providers"][0]
    assert provider["options"]["path"] == defaults["grafana_dashboards_dir"]


def test_grafana_datasources_verify_https_against_the_ca(rendered: Rendered, pki: Pki) -> None:
    """Grafana takes the CA's certificate itself (tlsCACert), not a path: the rendered file holds
    the PEM the role read on the host."""
    for source in load_yaml(rendered.grafana("datasources.yml"))["datasources"]:
        assert source["url"].startswith("https://127.0.0.1:"), source["url"]
        assert source["jsonData"]["tlsAuthWithCACert"] is True, source["uid"]
        assert "tlsSkipVerify" not in source["jsonData"], source["uid"]
        assert source["secureJsonData"]["tlsCACert"] == pki.ca.ca_file.read_text(), source["uid"]


def test_grafana_serves_https_with_the_given_certificate(rendered: Rendered, pki: Pki) -> None:
    """Grafana's [server] settings by environment in the unit's drop-in: HTTPS with the host's
    certificate and TLS 1.2+, the key read through the TLS group, secure cookies, and the
    certificates' fingerprint so that a renewal restarts it (it reads them at start)."""
    drop_in = rendered.grafana("override.conf").read_text()
    environment = dict(
        line.removeprefix("Environment=").split("=", 1)
        for line in drop_in.splitlines()
        if line.startswith("Environment=")
    )
    assert environment["GF_SERVER_PROTOCOL"] == "https"
    assert environment["GF_SERVER_CERT_FILE"] == str(pki.server.cert_file)
    assert environment["GF_SERVER_CERT_KEY"] == str(pki.server.key_file)
    assert environment["GF_SERVER_MIN_TLS_VERSION"] == "TLS1.2"
    assert environment["GF_SECURITY_COOKIE_SECURE"] == "true"
    assert environment["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"
    assert "\nSupplementaryGroups=ragfleet-tls\nPrivateUsers=false\n" in drop_in
    assert "certificates: test-fingerprint" in drop_in
    tasks = {t["name"]: t for t in load_yaml(GRAFANA_ROLE / "tasks" / "configure.yml")}
    drop_in_task = tasks["Set the listen address and TLS, and harden the unit"]
    assert drop_in_task["notify"] == "Restart grafana"


def test_grafana_install_switch_guards_repository_package_and_service() -> None:
    main = load_yaml(GRAFANA_ROLE / "tasks" / "main.yml")
    install = next(t for t in main if t["ansible.builtin.include_tasks"]["file"] == "install.yml")
    assert install["when"] == "grafana_install | bool"
    tasks = yaml.safe_load((GRAFANA_ROLE / "tasks" / "install.yml").read_text())
    apt = next(t for t in tasks if "ansible.builtin.apt" in t)["ansible.builtin.apt"]
    assert apt["name"] == "grafana={{ grafana_version }}"
    # A deb822 file from a template (deb822_repository needs python3-debian on the host).
    repository = next(t for t in tasks if "ansible.builtin.template" in t)
    assert repository["ansible.builtin.template"]["src"] == "grafana.sources.j2"
    source = (GRAFANA_ROLE / "templates" / "grafana.sources.j2").read_text()
    assert "Signed-By: {{ grafana_apt_keyring }}" in source
    configure = load_yaml(GRAFANA_ROLE / "tasks" / "configure.yml")
    service = next(t for t in configure if "ansible.builtin.include_role" in t)
    assert service["ansible.builtin.include_role"]["tasks_from"] == "start.yml"
    assert service["when"] == "grafana_install | bool"
