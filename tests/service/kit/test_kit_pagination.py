"""Page tokens are opaque, signed and bound to their query; page sizes are bounded."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ia_service_kit.database import Database
from ia_service_kit.pagination import InvalidPageSize, InvalidPageToken, PageTokens, page_size

QUERY = {"name_prefix": "a", "labels": {"team": "x"}}


def test_a_token_round_trips_its_key() -> None:
    tokens = PageTokens(b"k" * 32)
    token = tokens.encode(["alpha", 3], query=QUERY)
    assert tokens.decode(token, query=dict(QUERY)) == ["alpha", 3]


def test_an_empty_token_is_the_first_page() -> None:
    assert PageTokens(b"k").decode("", query=QUERY) is None


def test_an_edited_token_is_refused() -> None:
    tokens = PageTokens(b"k" * 32)
    body, signature = tokens.encode("alpha", query=QUERY).split(".")
    content = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    content["after"] = "omega"
    forged = base64.urlsafe_b64encode(json.dumps(content).encode()).decode().rstrip("=")
    with pytest.raises(InvalidPageToken, match="modified"):
        tokens.decode(f"{forged}.{signature}", query=QUERY)


def test_a_token_from_another_secret_is_refused() -> None:
    token = PageTokens(b"one").encode("alpha", query=QUERY)
    with pytest.raises(InvalidPageToken):
        PageTokens(b"two").decode(token, query=QUERY)


@pytest.mark.parametrize("token", ["garbage", "@@@.###", "a.b.c", "."])
def test_a_malformed_token_is_refused(token: str) -> None:
    with pytest.raises(InvalidPageToken):
        PageTokens(b"k").decode(token, query=QUERY)


def test_a_token_cannot_be_replayed_with_other_filters() -> None:
    tokens = PageTokens(b"k")
    token = tokens.encode("alpha", query=QUERY)
    with pytest.raises(InvalidPageToken, match="different query"):
        tokens.decode(token, query={"name_prefix": "b", "labels": {"team": "x"}})


def test_the_secret_lives_in_the_database_so_tokens_survive_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    db = Database(url, service="x")
    token = PageTokens.for_database(db).encode("alpha", query=QUERY)
    db.close()
    reopened = Database(url, service="x")
    assert PageTokens.for_database(reopened).decode(token, query=QUERY) == "alpha"
    other_service = Database(url, service="y")
    with pytest.raises(InvalidPageToken):
        PageTokens.for_database(other_service).decode(token, query=QUERY)
    reopened.close()
    other_service.close()


@pytest.mark.parametrize(("requested", "expected"), [(0, 50), (1, 1), (1000, 1000), (5000, 1000)])
def test_page_size_defaults_and_caps(requested: int, expected: int) -> None:
    assert page_size(requested) == expected


def test_a_negative_page_size_is_refused() -> None:
    with pytest.raises(InvalidPageSize):
        page_size(-1)
