"""The shipped OpenAPI file, and a check of a real response against it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

import jupyter_debug_server

SPEC = yaml.safe_load(
    (Path(jupyter_debug_server.__file__).parent / "openapi.yaml").read_text())


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = _lookup(node["$ref"])
    return node


def _lookup(ref: str) -> Any:
    node: Any = SPEC
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def check(method: str, template: str, status: int, body: Any) -> None:
    """Validate a real response against the documented one for its status."""
    operation = SPEC["paths"][template][method.lower()]
    responses = operation["responses"]
    assert str(status) in responses, f"{method} {template} answered undocumented {status}"
    response = _resolve(responses[str(status)])
    if status == 204:
        assert body is None and "content" not in response
        return
    schema = response["content"]["application/json"]["schema"]
    jsonschema.validate(body, {**schema, "components": SPEC["components"]},
                        cls=jsonschema.Draft202012Validator)
