"""The generic pieces on shapes this service's model does not use today (maps, headers,
boolean and list query members), and the event outbox under contention."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.model import ServiceModel

from local.chime.errors import ChimeError
from local.chime.events import EventBridgeSink, EventOutbox
from local.chime.protocol import bind_request, serialize_response
from local.chime.validation import validate

_SYNTHETIC = ServiceModel(
    {
        "metadata": {"protocol": "rest-json", "apiVersion": "1", "endpointPrefix": "x"},
        "operations": {
            "Put": {
                "name": "Put",
                "http": {"method": "PUT", "requestUri": "/things/{Key+}"},
                "input": {"shape": "PutInput"},
                "output": {"shape": "PutOutput"},
            }
        },
        "shapes": {
            "PutInput": {
                "type": "structure",
                "members": {
                    "Key": {"shape": "Text", "location": "uri", "locationName": "Key"},
                    "Trace": {"shape": "Text", "location": "header", "locationName": "X-Trace"},
                    "Force": {"shape": "Flag", "location": "querystring", "locationName": "force"},
                    "Ids": {"shape": "Texts", "location": "querystring", "locationName": "id"},
                    "Labels": {"shape": "Labels"},
                },
            },
            "PutOutput": {
                "type": "structure",
                "members": {
                    "Etag": {"shape": "Text", "location": "header", "locationName": "ETag"},
                    "Size": {"shape": "Count"},
                },
            },
            "Labels": {"type": "map", "key": {"shape": "Short"}, "value": {"shape": "Text"}},
            "Short": {"type": "string", "max": 3},
            "Text": {"type": "string"},
            "Texts": {"type": "list", "member": {"shape": "Text"}},
            "Flag": {"type": "boolean"},
            "Count": {"type": "integer"},
        },
    }
)
PUT = _SYNTHETIC.operation_model("Put")


def test_every_location_binds() -> None:
    params = bind_request(
        PUT,
        {"Key": "a%2Fb"},
        {"force": ["true"], "id": ["1", "2"]},
        {"X-Trace": "t-1"},
        b'{"Labels": {"abc": "v"}}',
    )
    assert params == {
        "Key": "a/b",
        "Trace": "t-1",
        "Force": True,
        "Ids": ["1", "2"],
        "Labels": {"abc": "v"},
    }
    validate(PUT.input_shape, params)


def test_maps_are_validated_key_and_value() -> None:
    with pytest.raises(ChimeError) as caught:
        validate(PUT.input_shape, {"Labels": {"long-key": 5}})
    assert "2 validation errors" in caught.value.message
    with pytest.raises(ChimeError, match="must be a map"):
        validate(PUT.input_shape, {"Labels": ["x"]})


def test_a_json_array_body_is_refused() -> None:
    with pytest.raises(ChimeError, match="JSON object"):
        bind_request(PUT, {"Key": "k"}, {}, {}, b"[1]")


def test_header_members_of_an_output_become_headers() -> None:
    status, headers, body = serialize_response(PUT, {"Etag": "e1", "Size": 3})
    assert (status, headers["ETag"], body) == (200, "e1", b'{"Size": 3}')
    with pytest.raises(KeyError):
        serialize_response(PUT, {"Unknown": 1})


def test_an_unknown_error_name_is_refused() -> None:
    with pytest.raises(KeyError):
        ChimeError("GetMeetingRequest", "not an error shape")


def test_refused_put_events_entries_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    class Refusing:
        def put_events(self, Entries: list[Any]) -> dict[str, Any]:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "Nope"}] * len(Entries)}

    sink = EventBridgeSink(client=Refusing())
    detail = {"timestamp": 0}
    sink.deliver([{"source": "aws.chime", "detail-type": "x", "detail": detail, "resources": []}])
    assert "PutEvents refused" in caplog.text


def test_events_queued_while_another_thread_delivers_are_delivered_by_it() -> None:
    outbox = EventOutbox()
    delivered: list[int] = []
    first_started = threading.Event()
    release_first = threading.Event()

    class Slow:
        def deliver(self, envelopes: list[dict[str, Any]]) -> None:
            if envelopes[0]["n"] == 1:
                first_started.set()
                release_first.wait(5)
            delivered.extend(item["n"] for item in envelopes)

    outbox.add_sink(Slow())
    outbox.put({"n": 1})
    worker = threading.Thread(target=outbox.flush)
    worker.start()
    assert first_started.wait(5)
    outbox.put({"n": 2})
    outbox.flush()  # returns at once: the worker holds delivery and will send it
    release_first.set()
    worker.join(5)
    assert delivered == [1, 2]
