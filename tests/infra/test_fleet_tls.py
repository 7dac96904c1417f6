"""The fleet_tls role: every host holds the fleet CA and its own certificate from it, naming the
addresses other hosts reach it on; only the TLS group reads the key."""

import pytest

from tests.infra.artifacts import FLEET_CA

pytestmark = pytest.mark.host

CERT = "/etc/ssl/ragfleet/host.pem"
KEY = "/etc/ssl/ragfleet/host.key"


def test_files_and_their_modes(host):
    for path, owner, group, mode in (
        (FLEET_CA, "root", "root", 0o644),
        (CERT, "root", "root", 0o644),
        (KEY, "root", "ragfleet-tls", 0o640),
    ):
        f = host.file(path)
        assert f.is_file, f"{path} is missing"
        assert (f.user, f.group, f.mode) == (owner, group, mode), path


def test_the_certificate_is_the_fleet_cas_and_names_this_host(host, manifest):
    host.check_output(f"openssl verify -CAfile {FLEET_CA} -purpose sslserver {CERT}")
    names = host.check_output(f"openssl x509 -in {CERT} -noout -ext subjectAltName")
    hostname = host.check_output("hostname")
    for expected in (
        f"IP Address:{manifest['address']}",
        "IP Address:127.0.0.1",
        f"DNS:{hostname}",
    ):
        assert expected in names, f"{expected} not in {names}"


def test_the_key_belongs_to_the_certificate(host):
    from_key = host.check_output(f"openssl pkey -in {KEY} -pubout")
    from_cert = host.check_output(f"openssl x509 -in {CERT} -noout -pubkey")
    assert from_key == from_cert


def test_the_ca_key_never_reaches_a_host(host):
    ca_public = host.check_output(f"openssl x509 -in {FLEET_CA} -noout -pubkey")
    keys = host.run(
        "grep -rlE 'BEGIN ([A-Z]+ )?PRIVATE KEY' /etc/ssl /etc/ragfleet /etc/redis /etc/haproxy"
        " /etc/milvus /etc/prometheus 2>/dev/null"
    ).stdout.split()
    assert KEY in keys
    for path in keys:
        public = host.run(f"openssl pkey -in {path} -pubout")
        assert public.stdout.strip() != ca_public.strip(), f"{path} holds the fleet CA's key"
