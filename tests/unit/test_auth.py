"""Signed links and sessions, and what a principal may see and do."""

from __future__ import annotations

import time

import pytest

from shared.auth import EVERY_PROJECT, Principal, Role, Tokens
from shared.errors import Forbidden

SECRET = b"0" * 44


def test_a_signed_link_opens_its_own_path_until_it_expires():
    tokens = Tokens(SECRET, 3600)
    link = tokens.link("/api/v1/jobs/j/artifacts/video.mp4", 60)
    path, query = link.split("?")
    params = dict(pair.split("=", 1) for pair in query.split("&"))
    assert tokens.check_link(path, params["expires"], params["signature"])
    assert not tokens.check_link("/api/v1/jobs/j/artifacts/audio.wav", params["expires"], params["signature"])
    assert not tokens.check_link(path, str(int(params["expires"]) + 1), params["signature"])
    assert not Tokens(b"1" * 44, 3600).check_link(path, params["expires"], params["signature"])
    past = str(int(time.time()) - 1)  # an expiry in the past is refused however well signed
    signature = tokens._links.get_signature(f"{path}|{past}").decode()
    assert not tokens.check_link(path, past, signature)


def test_a_session_carries_its_key_and_csrf_token_and_refuses_tampering():
    tokens = Tokens(SECRET, 3600)
    cookie, csrf = tokens.session("abc")
    assert tokens.read_session(cookie) == ("abc", csrf)
    assert tokens.read_session(cookie[:-2] + "xx") is None
    assert Tokens(b"1" * 44, 3600).read_session(cookie) is None


@pytest.mark.parametrize(
    ("role", "needed", "allowed"),
    [
        (Role.VIEWER, Role.VIEWER, True),
        (Role.VIEWER, Role.OPERATOR, False),
        (Role.OPERATOR, Role.OPERATOR, True),
        (Role.OPERATOR, Role.ADMIN, False),
        (Role.ADMIN, Role.OPERATOR, True),
    ],
)
def test_roles_are_ordered(role: Role, needed: Role, allowed: bool):
    principal = Principal("k", "key", "a", role)
    assert principal.allows(needed) is allowed
    if not allowed:
        with pytest.raises(Forbidden, match=str(needed)):
            principal.require(needed)


def test_a_project_key_acts_for_its_project_only():
    mine = Principal("k", "key", "a", Role.ADMIN)
    assert mine.sees("a") and not mine.sees("b") and mine.scope == "a"
    assert mine.project_for(None) == "a" and mine.project_for("a") == "a"
    for other in ("b", EVERY_PROJECT):
        with pytest.raises(Forbidden):
            mine.project_for(other)
    everywhere = Principal("k", "key", EVERY_PROJECT, Role.ADMIN)
    assert everywhere.sees("b") and everywhere.scope is None and everywhere.project_for("b") == "b"
