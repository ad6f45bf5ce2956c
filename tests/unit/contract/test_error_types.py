"""One list of error types: docs/api.md's table is ErrorType, and every front end maps each kind once."""

from __future__ import annotations

import re

from gdino_serve.paths import REPO
from handler.contract.errors import ErrorType, InferenceError, InvalidInput, ModelOutOfMemory

ROW = re.compile(r"^\| `(\w+)` \| (\d{3}) \|", re.M)


def documented_types() -> dict[str, int]:
    """``type`` -> HTTP status, from the error table of docs/api.md."""
    return {name: int(status) for name, status in ROW.findall((REPO / "docs" / "api.md").read_text())}


def test_the_api_docs_list_every_error_type_and_no_other():
    assert sorted(documented_types()) == sorted(ErrorType)


def test_the_documented_status_is_the_one_the_error_kind_maps_to():
    from handler.frontends.http.replies import error_status

    documented = documented_types()
    assert error_status(ModelOutOfMemory()) == documented[ErrorType.OUT_OF_MEMORY] == 507
    assert error_status(InferenceError()) == documented[ErrorType.INTERNAL_SERVER_ERROR] == 500
    from gdino_serve.ray_serve.gateway import ERROR_STATUS  # the Ray Serve gateway's own answers

    assert all(documented[kind] == status for kind, status in ERROR_STATUS.items())
    protocol_errors = set(ERROR_STATUS) - {ErrorType.INTERNAL_SERVER_ERROR}
    caller_errors = set(ErrorType) - {ErrorType.OUT_OF_MEMORY, ErrorType.INTERNAL_SERVER_ERROR, *protocol_errors}
    assert all(error_status(InvalidInput("x", kind)) == documented[kind] == 400 for kind in caller_errors)


def test_error_types_are_their_json_names():
    assert ErrorType.UNKNOWN_FIELD == "UnknownField" and f"{ErrorType.OUT_OF_MEMORY}" == "OutOfMemory"
