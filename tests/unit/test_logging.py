"""Log lines never carry the values of local variables, whatever the log format."""

from __future__ import annotations

import pytest
from loguru import logger

from ragfleet.observability import logging as ragfleet_logging
from ragfleet.observability.logging import configure_logging

SECRET = "rf_secret_value_that_must_not_be_logged"


def _fail_with_a_secret_in_scope() -> None:
    api_key = SECRET
    raise RuntimeError("the dependency refused the call " + str(len(api_key)))


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    yield
    ragfleet_logging._configured_for = None
    configure_logging()


@pytest.mark.parametrize("json_lines", [True, False], ids=["json", "text"])
def test_tracebacks_do_not_print_local_variables(
    json_lines: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    ragfleet_logging._configured_for = None
    configure_logging("INFO", json_lines=json_lines)
    try:
        _fail_with_a_secret_in_scope()
    except RuntimeError:
        logger.exception("request failed")
    ragfleet_logging._flush_pending()
    err = capsys.readouterr().err
    assert "request failed" in err
    assert "_fail_with_a_secret_in_scope" in err  # the traceback itself is kept
    assert SECRET not in err
