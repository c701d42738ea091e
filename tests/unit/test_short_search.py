"""The console's short user search (services/directory.py): one or two characters
find the usernames, addresses and full names that *start* with them, from an index,
and their count stops at ``COUNT_CAP``; three or more still find the text anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from camauth.services import directory
from camauth.services.directory import MatchCount, UserFilter

from .conftest import add_user


def found(ctx, text):
    page = directory.search_users(ctx, UserFilter(text), per_page=100)
    return [row.user.username for row in page.items]


@pytest.fixture
def people(ctx):
    add_user(ctx, "mallory", email="m.ally@example.org", full_name="Mallory Knox")
    add_user(ctx, "emma", email="emma@example.com", full_name="Emma Thomas")
    add_user(ctx, "tomas", email="t.omas@example.net", full_name="Marta Tomás")
    add_user(ctx, "sam", full_name="Sam Åberg")
    add_user(ctx, "Åsa", full_name="Åsa Berg")
    add_user(ctx, "zed", email="MAIL@Example.org")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a username, a full name ("Marta ..."), an address ("MAIL@..."); not "emma",
        # "Emma Thomas" or "Sam", which hold "ma" (or "m") further in
        ("ma", ["mallory", "tomas", "zed"]),
        ("MA", ["mallory", "tomas", "zed"]),
        ("m", ["mallory", "tomas", "zed"]),
        ("e", ["emma"]),  # anywhere, "e" would be in every address
        ("å", ["Åsa"]),  # not "Sam Åberg"
        ("Å", ["Åsa"]),
        ("t.", ["tomas"]),  # "t.omas@..."; "." is no wildcard
        ("om", []),  # in "tomas", "Thomas" and "Tomás", at the start of none
        (" o ", []),  # spaces around do not count: "o" starts nothing
        # three characters: anywhere, as before
        ("mas", ["emma", "tomas"]),
        ("ber", ["sam", "Åsa"]),
    ],
)
def test_one_or_two_characters_match_the_start_of_a_name(ctx, people, text, expected):
    assert found(ctx, text) == expected
    assert directory.count_users(ctx, UserFilter(text)) == MatchCount(len(expected))
    assert directory.matches_start_only(UserFilter(text)) == (len(text.strip()) <= 2)


def test_the_count_of_a_short_search_stops_at_the_cap(ctx, people, monkeypatch):
    monkeypatch.setattr(directory, "COUNT_CAP", 3)
    assert directory.count_users(ctx, UserFilter("ma")) == MatchCount(3)  # exactly the cap
    monkeypatch.setattr(directory, "COUNT_CAP", 2)
    count = directory.count_users(ctx, UserFilter("ma"))
    assert count == MatchCount(2, more=True)
    assert str(count) == "more than 2"
    assert directory.count_users(ctx, UserFilter("e")) == MatchCount(1)
    # the list itself is not cut: every match, page by page
    assert found(ctx, "ma") == ["mallory", "tomas", "zed"]
    # a longer search, or no search at all, is counted exactly
    monkeypatch.setattr(directory, "COUNT_CAP", 1)
    assert directory.count_users(ctx, UserFilter("mas")) == MatchCount(2)
    assert directory.count_users(ctx, UserFilter()) == MatchCount(6)


def test_a_short_search_of_the_last_characters_there_are(ctx):
    """The range after a prefix ends past the last code point, or skips surrogates."""
    add_user(ctx, "max", full_name="a\U0010ffff")
    add_user(ctx, "nia", full_name="b\ud7ff")
    add_user(ctx, "ola", full_name="b\ue000")
    assert found(ctx, "a\U0010ffff") == ["max"]
    assert found(ctx, "b\ud7ff") == ["nia"]
    assert found(ctx, "b\ue000") == ["ola"]
    assert found(ctx, "\U0010ffff") == []


# --- what the database is asked -----------------------------------------------------------


@pytest.fixture
def statements(ctx) -> Iterator[list[tuple[str, Any]]]:
    """Every statement run on the database while the test runs, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append((statement, parameters))

    engine = ctx.db.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def values_of(parameters: Any) -> list[Any]:
    return list(parameters.values() if isinstance(parameters, dict) else parameters)


def user_statements(statements):
    return [(sql, parameters) for sql, parameters in statements if "FROM users" in sql]


def test_a_short_search_asks_for_names_starting_with_it(ctx, people, statements):
    directory.search_users(ctx, UserFilter("Ma"))
    directory.count_users(ctx, UserFilter("Ma"))
    [(_search, searched), (count_sql, counted)] = user_statements(statements)
    values = values_of(searched) + values_of(counted)
    patterns = [value for value in values if isinstance(value, str)]
    # never a pattern that matches "ma" further in (LIKE '%ma%')
    assert patterns and not any(value.startswith("%") for value in patterns)
    if ctx.db.get_bind().dialect.name == "postgresql":
        assert set(patterns) == {"ma%"}  # LIKE 'ma%', which a text_pattern_ops index serves
    else:
        assert set(patterns) == {"ma", "mb"}  # the range 'ma' <= key < 'mb' of an index
    # the count stops one past the cap
    assert "LIMIT" in count_sql.upper()
    assert directory.COUNT_CAP + 1 in values_of(counted)


def test_a_longer_search_still_matches_anywhere(ctx, people, statements):
    directory.count_users(ctx, UserFilter("mas"))
    [(sql, parameters)] = user_statements(statements)
    assert values_of(parameters).count("%mas%") == 3
    assert "LIMIT" not in sql.upper()


def plan(ctx, sql: str, parameters: Any) -> list[str]:
    connection = ctx.db.connection()
    if connection.dialect.name == "postgresql":
        # a table of six rows is read whole whatever its indexes: forbid that, so
        # that the plan shows whether an index can serve the search
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = connection.exec_driver_sql("EXPLAIN " + sql, parameters).all()
        return [row[0] for row in rows]
    rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, parameters).all()
    return [row[-1] for row in rows]


def test_a_short_count_reads_index_ranges_not_the_table(ctx, people, statements):
    directory.count_users(ctx, UserFilter("ma"))
    [(sql, parameters)] = user_statements(statements)
    steps = plan(ctx, sql, parameters)
    shown = "\n".join(steps)
    if ctx.db.get_bind().dialect.name == "postgresql":
        assert "Seq Scan" not in shown, shown
        for column in ("username_key", "email_key", "full_name_key"):
            assert f"ix_users_{column}_prefix" in shown, shown
    else:
        users = [step for step in steps if " users " in f" {step} "]
        assert users, shown
        assert all(step.startswith("SEARCH") for step in users), shown
        assert "ix_users_full_name_key" in shown, shown
