"""The gateway's rendered haproxy.cfg passes `haproxy -c` and balances on /readyz behind the
edge's guards."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def test_haproxy_config_passes_haproxy_check(rendered: Path) -> None:
    haproxy = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )
    assert haproxy, (
        "haproxy is not installed: `make test` installs the Debian package haproxy"
        " (scripts/install-system-deps.sh)"
    )
    openssl = shutil.which("openssl")
    assert openssl, "openssl is not installed"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            rendered / "ragfleet.pem.key",
            "-out",
            rendered / "ragfleet.pem",
            "-days",
            "1",
            "-subj",
            "/CN=test",
        ],
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [haproxy, "-c", "-f", rendered / "haproxy.cfg"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_haproxy_config_balances_on_readyz_and_guards_the_edge(rendered: Path) -> None:
    cfg = (rendered / "haproxy.cfg").read_text()
    assert "balance leastconn" in cfg
    assert "uri /readyz" in cfg
    assert "server inference-1 10.20.1.11:8000 check" in cfg
    assert "server inference-2 10.20.1.12:8000 check" in cfg
    assert "deny deny_status 403 if { path,url_dec -m reg -i ^(/+\\.)*/+metrics }" in cfg
    assert "del-header X-Forwarded-For" in cfg
    assert "option forwardfor" in cfg
    assert "sc_http_req_rate(0) gt 600" in cfg
    assert "req.hdr_val(content-length) gt 10485760" in cfg
    assert "%{+json}o" in cfg
    assert "bind 10.20.4.41:8404" in cfg  # statistics on the private address only
