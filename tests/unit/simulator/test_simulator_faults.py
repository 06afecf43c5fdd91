"""Fault injection, request counters and the request log."""

from __future__ import annotations

import json
import time

import pytest
import requests
from simulator_test_helpers import TIMEOUT, get, params_of, put_owner, query_of, send_instructions, start_transfer

from docspace_simulator import Fault

SETTINGS = "/api/2.0/settings"

# Faults


def test_fault_status_json_body(docspace_portal):
    docspace_portal.add_fault("status", SETTINGS, status=503, message="Service is down")
    response = get(docspace_portal, SETTINGS)

    assert response.status_code == 503
    assert response.json()["error"]["message"] == "Service is down"
    assert response.json()["statusCode"] == 503


def test_fault_429_empty_with_retry_after(docspace_portal):
    docspace_portal.add_fault("status", SETTINGS, status=429, retry_after=7)
    response = get(docspace_portal, SETTINGS)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.content == b""


def test_fault_status_body_forced_empty(docspace_portal):
    docspace_portal.add_fault("status", SETTINGS, status=500, body="empty")

    assert get(docspace_portal, SETTINGS).content == b""


def test_fault_once_by_default(docspace_portal):
    docspace_portal.add_fault("status", SETTINGS, status=500)

    assert get(docspace_portal, SETTINGS).status_code == 500
    assert get(docspace_portal, SETTINGS).status_code == 200
    assert docspace_portal.faults == []


def test_fault_times(docspace_portal):
    docspace_portal.add_fault("status", SETTINGS, status=502, times=3)
    statuses = [get(docspace_portal, SETTINGS).status_code for _unused in range(4)]

    assert statuses == [502, 502, 502, 200]


def test_fault_probability_seeded(docspace_simulator):
    first = docspace_simulator.add_portal("first")
    second = docspace_simulator.add_portal("second")
    sequences = []
    for portal in (first, second):
        portal.add_fault("status", SETTINGS, status=503, probability=0.5)
        sequences.append([get(portal, SETTINGS).status_code for _unused in range(20)])
    first.clear_faults()
    first.add_fault("status", SETTINGS, status=503, probability=0.5)
    repeated = [get(first, SETTINGS).status_code for _unused in range(20)]

    assert 0 < sequences[0].count(503) < 20
    assert repeated == sequences[0]


def test_fault_matches_template(docspace_portal):
    owner = docspace_portal.users["owner"]
    docspace_portal.add_fault("status", "/api/2.0/people/{userid}", status=504, times=2)

    assert get(docspace_portal, f"/api/2.0/people/{owner.id}", owner).status_code == 504
    assert get(docspace_portal, "/api/2.0/people/owner", owner).status_code == 504
    assert get(docspace_portal, "/api/2.0/people/@self", owner).status_code == 200


def test_fault_matches_method(docspace_portal):
    owner = docspace_portal.users["owner"]
    docspace_portal.add_fault("status", "/api/2.0/settings/owner", method="PUT", status=503)
    response = send_instructions(docspace_portal, owner, docspace_portal.users["successor"].id)

    assert response.status_code == 200
    assert len(docspace_portal.faults) == 1


def test_fault_html_page(docspace_portal):
    docspace_portal.add_fault("html", SETTINGS, status=502)
    response = get(docspace_portal, SETTINGS)

    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "502 Bad Gateway" in response.text


def test_fault_slow(docspace_portal):
    docspace_portal.add_fault("slow", SETTINGS, delay=0.3)
    started = time.monotonic()
    response = get(docspace_portal, SETTINGS)

    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200


def test_fault_slow_client_timeout(docspace_portal):
    docspace_portal.add_fault("slow", SETTINGS, delay=0.5)

    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(docspace_portal.base_url + SETTINGS, timeout=0.1)


def test_fault_drop(docspace_portal):
    docspace_portal.add_fault("drop", SETTINGS)

    with pytest.raises(requests.exceptions.ConnectionError):
        get(docspace_portal, SETTINGS)
    assert get(docspace_portal, SETTINGS).status_code == 200


def test_fault_redirect(docspace_portal):
    docspace_portal.add_fault("redirect", SETTINGS, status=301, location="https://login.invalid/")
    response = get(docspace_portal, SETTINGS)

    assert response.status_code == 301
    assert response.headers["Location"] == "https://login.invalid/"


def test_fault_empty(docspace_portal):
    docspace_portal.add_fault("empty", SETTINGS)
    response = get(docspace_portal, SETTINGS)

    assert response.status_code == 200
    assert response.content == b""


def test_fault_truncated(docspace_portal):
    docspace_portal.add_fault("truncated", SETTINGS)
    response = get(docspace_portal, SETTINGS)

    assert response.status_code == 200
    assert response.content.startswith(b'{"response"')
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_fault_wrong_shape(docspace_portal):
    docspace_portal.add_fault("wrong_shape", SETTINGS)
    response = get(docspace_portal, SETTINGS)

    assert response.status_code == 200
    assert isinstance(response.json(), list)


def test_fault_wrong_shape_custom(docspace_portal):
    docspace_portal.add_fault("wrong_shape", SETTINGS, json_body={"response": "text"})

    assert get(docspace_portal, SETTINGS).json() == {"response": "text"}


def test_fault_before_processing_post_sends_nothing(docspace_portal):
    docspace_portal.add_fault("status", "/api/2.0/settings/owner", method="POST", status=502)
    response = send_instructions(docspace_portal, docspace_portal.users["owner"], docspace_portal.users["successor"].id)

    assert response.status_code == 502
    assert docspace_portal.outbox == []


@pytest.mark.parametrize("kind, options", [("status", {"status": 504}), ("html", {"status": 504}), ("drop", {}), ("truncated", {})])
def test_fault_after_processing_post_sends_email(docspace_portal, kind, options):
    docspace_portal.add_fault(kind, "/api/2.0/settings/owner", method="POST", after_processing=True, **options)

    try:
        response = send_instructions(docspace_portal, docspace_portal.users["owner"], docspace_portal.users["successor"].id)
        assert response.status_code != 200 or kind == "truncated"
    except requests.exceptions.ConnectionError:
        assert kind == "drop"
    assert len(docspace_portal.outbox) == 1


def test_fault_after_processing_put_changes_owner(docspace_portal):
    successor = docspace_portal.users["successor"]
    query = query_of(start_transfer(docspace_portal, successor))
    docspace_portal.add_fault("status", "/api/2.0/settings/owner", method="PUT", status=504, after_processing=True)
    response = put_owner(docspace_portal, successor.id, confirm=query, user=docspace_portal.users["owner"])

    assert response.status_code == 504
    assert docspace_portal.owner_id == successor.id


def test_fault_slow_after_processing(docspace_portal):
    successor = docspace_portal.users["successor"]
    query = query_of(start_transfer(docspace_portal, successor))
    docspace_portal.add_fault("slow", "/api/2.0/settings/owner", method="PUT", delay=0.5, after_processing=True)

    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.put(
            docspace_portal.base_url + "/api/2.0/settings/owner",
            json={"ownerId": successor.id},
            headers={"confirm": query, "Authorization": f"Bearer {docspace_portal.users['owner'].api_key}"},
            timeout=0.1,
        )
    assert docspace_portal.owner_id == successor.id


def test_fault_on_short_link(docspace_portal):
    start_transfer(docspace_portal, docspace_portal.users["successor"])
    docspace_portal.add_fault("status", "/s/{code}", status=503)

    assert requests.get(docspace_portal.last_email.short_link, allow_redirects=False, timeout=TIMEOUT).status_code == 503


def test_fault_remove_by_id(docspace_portal):
    fault = docspace_portal.add_fault("status", SETTINGS, status=500, times=None)

    assert docspace_portal.remove_fault(fault.id) is True
    assert get(docspace_portal, SETTINGS).status_code == 200


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"kind": "explode"}, "invalid fault kind"),
        ({"kind": "status", "probability": 2}, "probability"),
        ({"kind": "status", "times": 0}, "times"),
        ({"kind": "redirect"}, "location"),
        ({"kind": "slow"}, "delay"),
        ({"kind": "status", "colour": "red"}, "unknown fault fields"),
        ({"path": SETTINGS}, "missing fault field: kind"),
    ],
)
def test_fault_spec_rejected(spec, message):
    with pytest.raises(ValueError, match=message):
        Fault.from_dict(spec)


# Counters and the request log


def test_counters_per_endpoint_template(docspace_portal):
    owner = docspace_portal.users["owner"]
    get(docspace_portal, SETTINGS, owner)
    get(docspace_portal, f"/api/2.0/people/{owner.id}", owner)
    get(docspace_portal, "/api/2.0/people/owner", owner)

    assert docspace_portal.request_count() == 3
    assert docspace_portal.request_count("GET /api/2.0/settings") == 1
    assert docspace_portal.request_count("GET /api/2.0/people/{userid}") == 2
    assert docspace_portal.request_count("GET /api/2.0/people/owner") == 1
    assert docspace_portal.request_counts() == {"GET /api/2.0/settings": 1, "GET /api/2.0/people/{userid}": 2}


def test_counters_include_faulted_and_unknown(docspace_portal):
    docspace_portal.add_fault("status", SETTINGS, status=503)
    get(docspace_portal, SETTINGS)
    get(docspace_portal, "/nowhere")

    assert docspace_portal.request_count() == 2
    assert docspace_portal.request_count("GET /nowhere") == 1
    assert docspace_portal.requests[0].fault == "status"
    assert docspace_portal.requests[0].status == 503


def test_counters_per_portal(docspace_simulator):
    other = docspace_simulator.add_portal("other")
    acme = docspace_simulator.portal("acme")
    get(other, SETTINGS)

    assert other.request_count() == 1
    assert acme.request_count() == 0


def test_request_log_never_keeps_header_values(docspace_portal):
    owner = docspace_portal.users["owner"]
    successor = docspace_portal.users["successor"]
    query = query_of(start_transfer(docspace_portal, successor))
    put_owner(docspace_portal, successor.id, confirm=query, user=owner)
    record = docspace_portal.requests[-1]
    flattened = json.dumps([entry.to_dict() for entry in docspace_portal.requests])

    assert record.method == "PUT"
    assert record.endpoint == "PUT /api/2.0/settings/owner"
    assert record.has_authorization is True
    assert record.has_confirm is True
    assert "Authorization" in record.header_names
    assert "confirm" in record.header_names
    assert record.body == json.dumps({"ownerId": successor.id})
    assert owner.api_key not in flattened
    assert params_of("?" + query)["key"] not in flattened


def test_request_log_query(docspace_portal):
    owner = docspace_portal.users["owner"]
    get(docspace_portal, "/api/2.0/people/email", owner, params={"email": "a+b@acme.docspace.test"})

    assert docspace_portal.requests[0].query == "email=a%2Bb%40acme.docspace.test"
    assert docspace_portal.requests[0].has_confirm is False


def test_clear_requests(docspace_portal):
    get(docspace_portal, SETTINGS)
    docspace_portal.clear_requests()

    assert docspace_portal.request_count() == 0
    assert docspace_portal.requests == []
