"""The OpenAPI document tells the truth: schemathesis generates requests from ``/schema`` against a
real ``ragfleet serve`` with API keys on and checks every answer against the document (status
codes, content types, bodies, headers), that no request gets a 5xx, that schema-valid requests
are accepted and invalid ones refused, and that authentication is enforced where it is declared.

Bounded and reproducible: a fixed seed and a fixed number of examples per operation.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ragfleet.adapters.embedded_llm import EmbeddedLLMServer
from ragfleet.security.api_keys import hash_key
from tests.support.serving import serving

pytestmark = pytest.mark.integration

RAGFLEET = Path(sys.executable).with_name("ragfleet")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
KEY = "rf-contract-test-key-0123456789abcdef"
SEED = 20261202
EXAMPLES_PER_OPERATION = 40
# Two rules of POST /documents that JSON Schema cannot state, so schema-valid batches may be
# refused with a 400 (described in the schema's text): ids unique within one batch, and metadata
# no larger than RAGFLEET_METADATA_MAX_BYTES as JSON. Every other check still runs there.
CONFIG = """
checks.enabled = true

[[operations]]
include-path = "/documents"
include-method = "POST"
checks.positive_data_acceptance.enabled = false
"""


def run_schemathesis(base: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    return subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(config),
            "run",
            f"{base}/schema/openapi.json",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            str(SEED),
            "--generation-deterministic",
            "--workers",
            "1",
            "--no-color",
            *extra,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_every_answer_matches_the_openapi_document(
    tmp_path: Path, llm_server: EmbeddedLLMServer
) -> None:
    env = {
        **os.environ,
        "RAGFLEET_DATA_DIR": str(tmp_path / "data"),
        "RAGFLEET_LLM_BASE_URL": llm_server.base_url,
        "RAGFLEET_LLM_MAX_TOKENS": "4",
        "RAGFLEET_API_KEYS": f"contract:{hash_key(KEY)}:query+ingest",
    }
    with serving(RAGFLEET, env, tmp_path / "serve.log") as (_, base):
        result = run_schemathesis(base, tmp_path, "--header", f"Authorization: Bearer {KEY}")
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    # The run really exercised the API: every operation, and many cases.
    assert "Tested: 8" in report, report
    assert "No issues found" in report, report
