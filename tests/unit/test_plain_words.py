"""Machine names in words, and user agents summarised (services/plain_words.py)."""

from __future__ import annotations

import pytest

from camauth.services import plain_words
from camauth.services.audit import Event


def test_every_event_has_words_and_an_unknown_one_reads_as_itself():
    assert {event.value for event in Event} == set(plain_words.EVENT_WORDS)
    assert plain_words.event_words("lockout") == "Locked out after wrong passwords"
    assert plain_words.event_words("from_a_newer_version") == "from a newer version"


def test_failure_reasons_in_words():
    assert plain_words.failure_words("password") == "wrong password or unknown username"
    assert plain_words.failure_words("reauth_code_replay").endswith("(confirming it is them)")
    assert plain_words.failure_words("something_new") == "something new"


@pytest.mark.parametrize(
    ("user_agent", "summary"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Firefox 128 on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.4 Safari/605.1.15",
            "Safari 17 on macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            "Safari 17 on iPhone",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Edge 126 on Windows",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.6478.71 Mobile Safari/537.36",
            "Chrome 126 on Android",
        ),
        ("curl/8.5.0", "curl/8.5.0"),
        ("camauth-device-login", "camauth-device-login"),
        ("", "unknown"),
        ("   ", "unknown"),
    ],
)
def test_user_agents_are_summarised(user_agent, summary):
    assert plain_words.user_agent_summary(user_agent) == summary
