"""The playbook's group_vars give each host what its roles need: sizes from its hardware profile,
the addresses of the other groups, and the datastore's credentials."""

from __future__ import annotations

import re

from tests.ansible.plays import REPO, group_vars_of, load_yaml


def test_group_vars_size_the_large_inference_hosts_from_the_profile() -> None:
    profile = load_yaml(REPO / "hardware_profiles" / "large.yaml")
    got = group_vars_of(
        "example-large",
        "rag-large-inference-1",
        "{'workers': ragfleet_service_workers, 'tp': tensorrt_llm_tensor_parallel_size,"
        " 'quant': tensorrt_llm_quantisation, 'batch': tensorrt_llm_max_batch_size,"
        " 'kv': tensorrt_llm_kv_cache_free_gpu_memory_fraction, 'model': tensorrt_llm_model,"
        " 'raid': nvme_raid_level, 'devices': nvme_raid_min_devices}",
    )
    assert got == {
        "workers": profile["service"]["workers"],
        "tp": profile["trtllm"]["tensor_parallel_size"],
        "quant": profile["trtllm"]["quantisation"],
        "batch": profile["trtllm"]["max_batch_size"],
        "kv": profile["trtllm"]["kv_cache_free_gpu_memory_fraction"],
        "model": profile["trtllm"]["model"],
        "raid": profile["nvme"]["raid_level"],
        "devices": profile["nvme"]["min_devices"],
    }


def test_group_vars_wire_the_service_to_gateway_monitoring_and_datastore() -> None:
    got = group_vars_of(
        "example-large",
        "rag-large-inference-2",
        "{'proxies': ragfleet_service_trusted_proxies,"
        " 'metrics': ragfleet_service_metrics_allow_from,"
        " 'milvus': ragfleet_service_milvus_uri, 'redis': ragfleet_service_redis_url,"
        " 'host': ragfleet_service_host, 'llm': ragfleet_service_llm_base_url}",
    )
    assert got["proxies"] == ["127.0.0.1", "10.20.4.41"]
    assert got["metrics"] == ["127.0.0.1", "10.20.3.31"]
    assert got["milvus"] == "https://10.20.2.21:19530"
    assert re.fullmatch(r"rediss://ragfleet:[^@]+@10\.20\.2\.21:6379/0", got["redis"])
    assert got["host"] == "10.20.1.12"
    assert got["llm"] == "http://127.0.0.1:8001"


def test_group_vars_give_the_service_the_milvus_user_the_datastore_creates() -> None:
    token = group_vars_of("example-large", "rag-large-inference-1", "ragfleet_service_milvus_token")
    datastore = group_vars_of(
        "example-large",
        "rag-large-datastore-1",
        "[milvus_service_user, milvus_service_password, milvus_root_password]",
    )
    user, password, root_password = datastore
    assert token == f"{user}:{password}"
    assert user == "ragfleet_service"
    assert len(password) >= 32
    assert len(root_password) >= 32
    assert password != root_password


def test_group_vars_put_every_inference_host_behind_the_gateway() -> None:
    backends = group_vars_of("example-large", "rag-large-gateway-1", "gateway_backends")
    assert backends == {
        "rag-large-inference-1": "10.20.1.11",
        "rag-large-inference-2": "10.20.1.12",
    }


def test_group_vars_choose_milvus_lite_for_small_and_standalone_for_large() -> None:
    assert group_vars_of("example-onprem", "rtx-01", "milvus_mode") == "lite"
    assert group_vars_of("example-large", "rag-large-datastore-1", "milvus_mode") == "standalone"
