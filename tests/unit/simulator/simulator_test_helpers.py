"""Small HTTP helpers shared by the simulator tests."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests

from docspace_simulator import Portal, User

TIMEOUT = 10


def bearer(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.api_key}"}


def get(portal: Portal, path: str, user: User | None = None, **kwargs) -> requests.Response:
    headers = {**(bearer(user) if user else {}), **kwargs.pop("headers", {})}
    return requests.get(portal.base_url + path, headers=headers, timeout=TIMEOUT, allow_redirects=False, **kwargs)


def send_instructions(portal: Portal, caller: User, new_owner_id: str) -> requests.Response:
    return requests.post(
        portal.base_url + "/api/2.0/settings/owner",
        json={"ownerId": new_owner_id},
        headers=bearer(caller),
        timeout=TIMEOUT,
    )


def put_owner(portal: Portal, owner_id: str, *, confirm: str | None = None, user: User | None = None) -> requests.Response:
    headers = bearer(user) if user else {}
    if confirm is not None:
        headers["confirm"] = confirm
    return requests.put(portal.base_url + "/api/2.0/settings/owner", json={"ownerId": owner_id}, headers=headers, timeout=TIMEOUT)


def check_confirm(portal: Portal, body: dict) -> requests.Response:
    return requests.post(portal.base_url + "/api/2.0/authentication/confirm", json=body, timeout=TIMEOUT)


def query_of(link: str) -> str:
    return urlsplit(link).query


def params_of(link: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(link).query).items()}


def start_transfer(portal: Portal, new_owner: User) -> str:
    """Send the instructions as the owner and return the full confirmation link."""
    response = send_instructions(portal, portal.owner, new_owner.id)
    assert response.json()["response"]["status"] == 1, response.text
    return portal.last_email.link
