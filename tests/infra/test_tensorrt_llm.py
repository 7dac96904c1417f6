"""The tensorrt_llm role: trtllm-serve in the pinned release container under a hardened unit whose
flags are the hardware profile's (the one recorded in /var/lib/ragfleet/hardware-profile.json, read
from hardware_profiles/ on the controller), published only on named addresses. Without the install
switch (CI: no GPU, NGC unreachable) the role writes the unit and its configuration and starts
nothing; these tests check the files everywhere and the running server where it was installed."""

import re
import time

import pytest
import yaml

from tests.infra.artifacts import (
    DOCKER_CLIENT_HARDENING,
    FLEET_CA,
    STANDIN_REPOSITORY,
    exec_start,
    is_pinned,
    missing_lines,
    option_value,
    option_values,
    published_addresses,
    role_defaults,
    service_url,
    unit_image,
    unit_values,
)
from tests.infra.remote_http import request

pytestmark = pytest.mark.tensorrt_llm

UNIT = "/etc/systemd/system/tensorrt-llm.service"
CONFIG_DIR = "/etc/tensorrt-llm"
OPTIONS = f"{CONFIG_DIR}/extra_llm_api_options.yml"
PORT = "8001"
# The profile's quantisation as TensorRT-LLM's QuantAlgo names it; only the tensorrt backend takes
# a quant_config (pytorch reads it from the pre-quantised checkpoint).
QUANT_ALGO = {"fp8": "FP8", "int8_wo": "W8A16", "int4_wo": "W4A16", "int4_awq": "W4A16_AWQ"}


@pytest.fixture(autouse=True, scope="module")
def _only_on_gpu_hosts(gpu_host):
    if not gpu_host:
        pytest.skip("the manifest says this is no GPU inference host: the role did not run")


@pytest.fixture(scope="module")
def unit(host):
    f = host.file(UNIT)
    assert f.exists, f"{UNIT} is missing"
    assert (f.user, f.group, f.mode) == ("root", "root", 0o644)
    return f.content_string


@pytest.fixture(scope="module")
def argv(unit):
    return exec_start(unit)


@pytest.fixture(scope="module")
def serve_args(argv):
    """The arguments after `trtllm-serve serve`."""
    assert "trtllm-serve" in argv, f"ExecStart does not run trtllm-serve: {argv}"
    start = argv.index("trtllm-serve")
    assert argv[start + 1] == "serve"
    return argv[start + 2 :]


def test_server_flags_come_from_the_hardware_profile(argv, serve_args, hardware_profile):
    trtllm = hardware_profile.trtllm
    # A local checkpoint (tensorrt_llm_model_path) is mounted at /models/model and served there.
    local = any(volume.endswith(":/models/model:ro") for volume in option_values(argv, "--volume"))
    served = "/models/model" if local else trtllm.model
    assert serve_args[0] == served, "the served model is neither the profile's nor the mounted one"
    assert int(option_value(serve_args, "--tp_size")) == trtllm.tensor_parallel_size
    assert int(option_value(serve_args, "--max_batch_size")) == trtllm.max_batch_size
    fraction = float(option_value(serve_args, "--kv_cache_free_gpu_memory_fraction"))
    assert fraction == trtllm.kv_cache_free_gpu_memory_fraction
    options = option_value(serve_args, "--extra_llm_api_options")
    assert options == "/config/extra_llm_api_options.yml"
    assert option_value(serve_args, "--port") == PORT
    assert option_value(serve_args, "--backend") == trtllm.backend


def test_tensor_parallelism_fits_the_profiles_gpus(hardware_profile):
    assert hardware_profile.trtllm.tensor_parallel_size <= hardware_profile.gpu.min_count


def test_llm_api_options_carry_the_profiles_quantisation_and_kv_cache(host, hardware_profile):
    f = host.file(OPTIONS)
    assert (f.user, f.group, f.mode) == ("root", "root", 0o644)
    options = yaml.safe_load(f.content_string)
    trtllm = hardware_profile.trtllm
    assert options["kv_cache_config"]["free_gpu_memory_fraction"] == (
        trtllm.kv_cache_free_gpu_memory_fraction
    )
    if trtllm.backend == "tensorrt" and trtllm.quantisation in QUANT_ALGO:
        assert options["quant_config"]["quant_algo"] == QUANT_ALGO[trtllm.quantisation]
    else:
        assert "quant_config" not in options
    # /prometheus/metrics needs return_perf_metrics; its KV-cache gauges on pytorch need
    # per-iteration statistics too (a field the tensorrt backend refuses).
    assert options["return_perf_metrics"] is True
    assert options.get("enable_iter_perf_stats", False) is (trtllm.backend == "pytorch")


@pytest.fixture(scope="module")
def image(host, argv):
    """The pinned release, or its stand-in where no registry and no GPU are (Molecule)."""
    pinned = role_defaults("tensorrt_llm")["tensorrt_llm_image"]
    assert is_pinned(pinned)
    return unit_image(host, argv, pinned)


def test_image_is_the_pinned_release(argv, image):
    assert argv.index(image) < argv.index("trtllm-serve")


def test_container_gets_the_gpus_and_the_limits_nvidia_documents(host, argv, image):
    memlock = "-1"
    if image.startswith(STANDIN_REPOSITORY):
        # A test host has no GPU, and no CAP_SYS_RESOURCE to lift memlock above its hard limit:
        # the scenario asks for that limit instead of NVIDIA's unlimited.
        assert "--gpus" not in argv
        hard = host.check_output("sh -c 'ulimit -Hl'")
        memlock = "-1" if hard == "unlimited" else str(int(hard) * 1024)
    else:
        assert option_value(argv, "--gpus") == "all"
    assert option_value(argv, "--ipc") == "host"
    assert set(option_values(argv, "--ulimit")) == {f"memlock={memlock}", "stack=67108864"}
    assert "no-new-privileges" in option_values(argv, "--security-opt")
    assert "--privileged" not in argv


def test_port_is_published_on_named_addresses_only(argv):
    published = published_addresses(argv)
    assert set(published) == {PORT}, f"unexpected published ports {published}"
    assert published[PORT] == {"127.0.0.1"}, "trtllm-serve has no authentication: loopback only"


def test_configuration_is_mounted_read_only(argv):
    volumes = option_values(argv, "--volume")
    assert f"{OPTIONS}:/config/extra_llm_api_options.yml:ro" in volumes


def test_cache_lives_on_the_data_path(argv, host, manifest):
    volumes = option_values(argv, "--volume")
    cache = f"{manifest['data_dir']}/trtllm"
    assert f"{cache}:/cache" in volumes
    d = host.file(cache)
    assert d.is_directory
    assert (d.user, d.mode & 0o022) == ("root", 0)


def test_unit_restarts_on_failure_and_is_hardened(unit):
    assert unit_values(unit, "Restart") == ["on-failure"]
    assert unit_values(unit, "User") == ["tensorrt-llm"]
    assert unit_values(unit, "Requires") == ["docker.service"]
    missing = missing_lines(unit, DOCKER_CLIENT_HARDENING)
    assert not missing, f"tensorrt-llm.service lacks {missing}"


def test_token_file_is_readable_by_root_and_the_service_only(host):
    directory = host.file(CONFIG_DIR)
    assert (directory.user, directory.group, directory.mode) == ("root", "tensorrt-llm", 0o750)
    env = host.file(f"{CONFIG_DIR}/tensorrt-llm.env")
    assert (env.user, env.group, env.mode) == ("root", "tensorrt-llm", 0o640)
    assert re.search(r"^HF_HOME=/cache/huggingface$", env.content_string, re.MULTILINE)
    assert re.search(
        r"^TLLM_LLMAPI_BUILD_CACHE_ROOT=/cache/engines$", env.content_string, re.MULTILINE
    )


def test_system_user_cannot_log_in(host):
    user = host.user("tensorrt-llm")
    assert user.exists
    assert user.shell == "/usr/sbin/nologin"
    assert user.uid < 1000


def test_runs_exactly_when_installed(host, manifest):
    service = host.service("tensorrt-llm")
    if manifest["install"]:
        assert service.is_running
        assert service.is_enabled
        assert "docker" in host.user("tensorrt-llm").groups
    else:
        assert not service.is_running
        assert not service.is_enabled


def test_the_token_reaches_the_container_through_systemd(host):
    """As in every container unit: systemd reads the env file (EnvironmentFile=) and
    `docker run --env NAME` passes each variable, so the client never opens a secret file."""
    unit = host.file(UNIT).content_string
    assert unit_values(unit, "EnvironmentFile") == [f"{CONFIG_DIR}/tensorrt-llm.env"]
    argv = exec_start(unit)
    assert "--env-file" not in argv
    assert {"HF_HOME", "HF_TOKEN", "TLLM_LLMAPI_BUILD_CACHE_ROOT"} <= set(
        option_values(argv, "--env")
    )


def test_a_restart_loads_the_built_engine_instead_of_building_it(host, manifest, hardware_profile):
    """TensorRT backend: enable_build_cache keeps each built engine as engine-<hash>/ (metadata.json
    + content/) under TLLM_LLMAPI_BUILD_CACHE_ROOT, on the persistent cache mount; a restart finds
    it there. Where the server runs, restart it and see the same record, untouched."""
    if hardware_profile.trtllm.backend != "tensorrt":
        pytest.skip("the pytorch backend builds no engine: it loads the checkpoint from HF_HOME")
    options = yaml.safe_load(host.file(OPTIONS).content_string)
    assert options["enable_build_cache"] is True
    if not manifest["install"]:
        return
    engines = f"{manifest['data_dir']}/trtllm/engines"
    listing = "stat -c '%n %Y' {0}/engine-*/metadata.json"
    before = host.check_output(listing.format(engines))
    assert before, f"no engine was built into {engines}"
    host.check_output("systemctl restart tensorrt-llm")
    deadline = time.monotonic() + 180
    while not _generates(host):
        assert time.monotonic() < deadline, "trtllm-serve did not generate within 3 minutes"
        time.sleep(2)
    assert host.check_output(listing.format(engines)) == before
    # Leave the host as found: the service (and the gateway behind it) ready again.
    readyz = f"{service_url(host)}/readyz"
    while not _answers(host, readyz, FLEET_CA):
        assert time.monotonic() < deadline, "the service did not become ready again"
        time.sleep(2)


def _generates(host) -> bool:
    return _answers(host, f"http://127.0.0.1:{PORT}/health_generate")


def _answers(host, url: str, cafile: str | None = None) -> bool:
    try:
        return request(host, "GET", url, cafile=cafile).status == 200
    except AssertionError:
        return False
