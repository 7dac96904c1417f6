"""The gateway role: HAProxy with a valid configuration, TLS from a private key only root reads,
statistics on the private address, /metrics never served through the gateway."""

import pytest

from tests.infra.remote_http import request

pytestmark = pytest.mark.gateway

CERT_DIR = "/etc/haproxy/certs"


def test_service_active_and_enabled(host):
    service = host.service("haproxy")
    assert service.is_running
    assert service.is_enabled


def test_configuration_is_valid(host):
    result = host.run("haproxy -c -f /etc/haproxy/haproxy.cfg")
    assert result.rc == 0, result.stdout + result.stderr


def test_private_key_is_root_only(host):
    keys = host.check_output(f"find {CERT_DIR} -name '*.key'").split()
    assert keys, f"no private key in {CERT_DIR}"
    for key in keys:
        f = host.file(key)
        assert (f.user, f.mode) == ("root", 0o600), key


def test_statistics_on_the_private_address_only(host, manifest):
    listening = [s for s in host.socket.get_listening_sockets() if s.endswith(":8404")]
    assert listening == [f"tcp://{manifest['address']}:8404"], listening


def test_metrics_are_not_served_through_the_gateway(host, gateway_url, gateway_ca):
    response = request(host, "GET", f"{gateway_url}/metrics", cafile=gateway_ca)
    assert response.status == 403


def test_health_through_tls(host, gateway_url, gateway_ca):
    response = request(host, "GET", f"{gateway_url}/healthz", cafile=gateway_ca)
    assert response.status == 200
    assert response.header("Strict-Transport-Security")
