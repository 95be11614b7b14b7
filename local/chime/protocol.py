"""rest-json on the wire: a request's URI labels, query string, headers and JSON body become
the operation's input members (as the model places them); an output dict becomes headers and
a JSON body."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from botocore.model import OperationModel, Shape

from local.chime.errors import bad_request


def bind_request(
    operation: OperationModel,
    labels: Mapping[str, str],
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """The operation's input as a dict of member names, before validation."""
    shape = operation.input_shape
    if shape is None:
        return {}
    document = _json_body(body)
    params: dict[str, Any] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri":
            if wire_name in labels:
                params[name] = unquote(labels[wire_name])
        elif location == "querystring":
            if wire_name in query:
                params[name] = _from_query(member, query[wire_name], wire_name)
        elif location == "header":
            if wire_name in headers:
                params[name] = headers[wire_name]
        elif wire_name in document:
            params[name] = document[wire_name]
    return params


def _json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise bad_request(f"The request body is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise bad_request("The request body must be a JSON object")
    return document


def _from_query(member: Shape, values: list[str], wire_name: str) -> Any:
    if member.type_name == "list":
        return list(values)
    value = values[0]
    if member.type_name in ("integer", "long"):
        try:
            return int(value)
        except ValueError:
            raise bad_request(f"Query parameter {wire_name} must be an integer") from None
    if member.type_name == "boolean":
        return value.lower() == "true"
    return value


def serialize_response(
    operation: OperationModel, output: Mapping[str, Any]
) -> tuple[int, dict[str, str], bytes]:
    """Status code, headers and body for a successful call."""
    status = int(operation.http.get("responseCode", 200))
    headers: dict[str, str] = {}
    document: dict[str, Any] = {}
    shape = operation.output_shape
    members = shape.members if shape is not None else {}
    for name, value in output.items():
        member = members.get(name)
        if member is None:
            raise KeyError(f"{operation.name} has no output member {name}")
        if member.serialization.get("location") == "header":
            headers[member.serialization.get("name", name)] = str(value)
        else:
            document[member.serialization.get("name", name)] = value
    if status == 204:
        return status, headers, b""
    headers["Content-Type"] = "application/json"
    return status, headers, json.dumps(document).encode()
