"""TOTP codes as camauth checks them (PRODUCT §8): pure functions at fixed moments.

Expected codes come from pyotp called directly (``pyotp.TOTP(...).at(moment)``) or
from RFC 6238's own test vectors, never from camauth's ``TotpParameters``.
"""

from __future__ import annotations

import hashlib
from base64 import b32decode, b32encode
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from camauth.services import totp
from camauth.services.totp import (
    Match,
    SecretError,
    TotpParameters,
    Verdict,
    check_code,
    clean_code,
    find_offset,
    grouped,
    new_secret,
    parse_secret,
)

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # 160 bits
# in the middle of a 30-second step (and of a 60-second one): 15:09:26 is 26 s in
NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
STEP_30 = int(NOW.timestamp()) // 30
STEP_60 = int(NOW.timestamp()) // 60
APP = TotpParameters(SECRET)


def reference(
    moment: datetime,
    *,
    secret: str = SECRET,
    digits: int = 6,
    period: int = 30,
    digest=hashlib.sha1,
) -> str:
    """The code an independent implementation shows at ``moment``."""
    return pyotp.TOTP(secret, digits=digits, digest=digest, interval=period).at(moment)


def b32bytes(secret: str) -> bytes:
    return b32decode(secret + "=" * (-len(secret) % 8))


def code_steps_away(steps: int, *, period: int = 30, **kw) -> str:
    """The code a device ``steps`` steps ahead of NOW (behind if negative) shows."""
    return reference(NOW + timedelta(seconds=steps * period), period=period, **kw)


# --- the window ------------------------------------------------------------------


def test_the_fixed_moment_is_inside_a_step_not_on_its_edge():
    assert NOW.timestamp() % 30 == 26
    assert NOW.timestamp() % 60 == 26


@pytest.mark.parametrize("steps", [-1, 0, 1])
def test_current_step_and_one_either_side_are_accepted(steps):
    verdict = check_code(APP, code_steps_away(steps), NOW)
    assert verdict == Verdict(Match.ACCEPTED, STEP_30 + steps, steps)


def test_the_code_is_the_one_an_independent_implementation_shows():
    assert APP.step_at(NOW) == STEP_30
    assert APP.code_at(STEP_30) == reference(NOW)
    # the whole step shares the code; the next second starts another step
    step_start = NOW - timedelta(seconds=26)
    assert check_code(APP, reference(NOW), step_start) == Verdict(Match.ACCEPTED, STEP_30, 0)
    assert check_code(APP, reference(NOW), step_start + timedelta(seconds=29)).offset == 0
    assert check_code(APP, reference(NOW), step_start + timedelta(seconds=30)).offset == -1


@pytest.mark.parametrize("steps", [-10, -5, -2, 2, 3, 10])
def test_two_to_ten_steps_off_is_refused_with_a_clock_hint(steps):
    verdict = check_code(APP, code_steps_away(steps), NOW)
    assert verdict == Verdict(Match.CLOCK_OFF, STEP_30 + steps, steps)


@pytest.mark.parametrize("steps", [-11, 11, -40, 40])
def test_more_than_ten_steps_off_is_just_wrong(steps):
    assert check_code(APP, code_steps_away(steps), NOW) == Verdict(Match.WRONG)


def test_a_code_for_no_step_nearby_is_wrong():
    nearby = {code_steps_away(steps) for steps in range(-10, 11)}
    wrong = next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in nearby)
    assert check_code(APP, wrong, NOW) == Verdict(Match.WRONG)


def test_spaces_inside_a_code_do_not_matter():
    code = reference(NOW)
    assert check_code(APP, f" {code[:3]} {code[3:]}\t", NOW).match is Match.ACCEPTED


def test_digits_other_than_ascii_are_not_read_as_a_code():
    fullwidth = reference(NOW).translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    assert int(fullwidth) == int(reference(NOW))  # Python itself would read it as the code
    assert check_code(APP, fullwidth, NOW) == Verdict(Match.WRONG)


# --- replay ----------------------------------------------------------------------


@pytest.mark.parametrize("steps", [-1, 0])
def test_a_step_at_or_before_the_last_accepted_one_is_a_replay(steps):
    verdict = check_code(APP, code_steps_away(steps), NOW, last_step=STEP_30)
    assert verdict == Verdict(Match.REPLAY, STEP_30 + steps, steps)


def test_a_step_after_the_last_accepted_one_is_accepted():
    verdict = check_code(APP, code_steps_away(1), NOW, last_step=STEP_30)
    assert verdict == Verdict(Match.ACCEPTED, STEP_30 + 1, 1)
    assert check_code(APP, code_steps_away(0), NOW, last_step=STEP_30 - 1).match is Match.ACCEPTED


def test_once_a_later_step_was_used_every_earlier_code_is_a_replay():
    for steps in (-1, 0, 1):
        verdict = check_code(APP, code_steps_away(steps), NOW, last_step=STEP_30 + 1)
        assert verdict.match is Match.REPLAY


def test_replay_is_judged_in_the_devices_own_steps_with_drift():
    # a device 5 steps ahead whose current step was used already
    verdict = check_code(APP, code_steps_away(5), NOW, drift=5, last_step=STEP_30 + 5)
    assert verdict == Verdict(Match.REPLAY, STEP_30 + 5, 0)
    verdict = check_code(APP, code_steps_away(6), NOW, drift=5, last_step=STEP_30 + 5)
    assert verdict == Verdict(Match.ACCEPTED, STEP_30 + 6, 1)


# --- drift -----------------------------------------------------------------------


@pytest.mark.parametrize("drift", [-7, 3, 20])
def test_the_window_is_centred_on_the_server_step_plus_the_drift(drift):
    for offset in (-1, 0, 1):
        verdict = check_code(APP, code_steps_away(drift + offset), NOW, drift=drift)
        assert verdict == Verdict(Match.ACCEPTED, STEP_30 + drift + offset, offset)
    # relative to the drift, not to the server's own step
    verdict = check_code(APP, code_steps_away(drift + 2), NOW, drift=drift)
    assert verdict == Verdict(Match.CLOCK_OFF, STEP_30 + drift + 2, 2)
    assert check_code(APP, code_steps_away(drift + 11), NOW, drift=drift).match is Match.WRONG


@pytest.mark.parametrize("steps", [-10, -6, -1, 0, 4, 10])
def test_enrolment_finds_a_token_up_to_ten_steps_off(steps):
    assert find_offset(APP, code_steps_away(steps), NOW) == Verdict(
        Match.ACCEPTED, STEP_30 + steps, steps
    )


@pytest.mark.parametrize("steps", [-11, 11])
def test_enrolment_does_not_find_a_token_eleven_steps_off(steps):
    assert find_offset(APP, code_steps_away(steps), NOW).match is Match.WRONG


# --- hardware token parameters ------------------------------------------------------


def test_sixty_second_eight_digit_sha256_token():
    params = TotpParameters(SECRET, digits=8, period=60, algorithm="sha256")
    kind = {"digits": 8, "period": 60, "digest": hashlib.sha256}
    assert params.step_at(NOW) == STEP_60
    assert params.code_at(STEP_60) == reference(NOW, **kind)
    assert len(reference(NOW, **kind)) == 8
    assert check_code(params, reference(NOW, **kind), NOW) == Verdict(Match.ACCEPTED, STEP_60, 0)
    # steps are 60 seconds: a minute ahead is one step, two minutes two
    for steps, match in [(1, Match.ACCEPTED), (-1, Match.ACCEPTED), (2, Match.CLOCK_OFF)]:
        verdict = check_code(params, code_steps_away(steps, **kind), NOW)
        assert (verdict.match, verdict.offset) == (match, steps)
    assert check_code(params, code_steps_away(11, **kind), NOW).match is Match.WRONG


def test_a_sha256_token_does_not_take_sha1_codes_nor_the_reverse():
    sha256 = TotpParameters(SECRET, digits=8, period=60, algorithm="sha256")
    sha1 = TotpParameters(SECRET, digits=8, period=60, algorithm="sha1")
    sha1_code = reference(NOW, digits=8, period=60, digest=hashlib.sha1)
    sha256_code = reference(NOW, digits=8, period=60, digest=hashlib.sha256)
    assert sha1_code != sha256_code
    assert check_code(sha256, sha1_code, NOW).match is Match.WRONG
    assert check_code(sha1, sha256_code, NOW).match is Match.WRONG
    assert check_code(sha1, sha1_code, NOW).match is Match.ACCEPTED


def test_an_eight_digit_token_refuses_six_digits_and_the_reverse():
    eight = TotpParameters(SECRET, digits=8)
    code = reference(NOW, digits=8)
    assert check_code(eight, code, NOW).match is Match.ACCEPTED
    assert check_code(eight, code[2:], NOW).match is Match.WRONG
    assert check_code(APP, code, NOW).match is Match.WRONG


def test_a_sixty_second_token_is_not_judged_in_thirty_second_steps():
    params = TotpParameters(SECRET, period=60)
    # 30-second codes of the same secret are a different sequence
    assert check_code(params, reference(NOW, period=60), NOW).match is Match.ACCEPTED
    assert check_code(params, reference(NOW, period=30), NOW).match is not Match.ACCEPTED


# RFC 6238 Appendix B: seeds are the ASCII digits "1234567890" repeated to the key
# length of each hash (20 bytes for SHA-1, 32 for SHA-256); 8 digits, 30 s steps.
SEED_SHA1 = b"12345678901234567890"
SEED_SHA256 = b"12345678901234567890123456789012"
RFC_6238 = [
    (59, "94287082", "46119246"),
    (1111111109, "07081804", "68084774"),
    (1111111111, "14050471", "67062674"),
    (1234567890, "89005924", "91819424"),
    (2000000000, "69279037", "90698825"),
    (20000000000, "65353130", "77737706"),
]


@pytest.mark.parametrize(("seconds", "sha1_code", "sha256_code"), RFC_6238)
def test_rfc_6238_appendix_b_vectors(seconds, sha1_code, sha256_code):
    moment = datetime.fromtimestamp(seconds, UTC)
    step = seconds // 30
    for seed, algorithm, expected in [
        (SEED_SHA1, "sha1", sha1_code),
        (SEED_SHA256, "sha256", sha256_code),
    ]:
        # the seed as an administrator would type it from a token's data sheet (hex)
        params = TotpParameters(
            parse_secret(seed.hex(), hexadecimal=True), digits=8, algorithm=algorithm
        )
        assert params.step_at(moment) == step
        assert params.code_at(step) == expected
        assert check_code(params, expected, moment) == Verdict(Match.ACCEPTED, step, 0)


# --- secrets -----------------------------------------------------------------------


def test_new_secret_is_160_random_bits_in_base32():
    secret = new_secret()
    assert len(b32bytes(secret)) == 20
    assert secret == secret.upper()
    assert "=" not in secret
    assert parse_secret(secret) == secret
    assert len({new_secret() for _ in range(20)}) == 20


def test_grouped_shows_the_secret_in_fours():
    assert grouped(SECRET) == "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP"
    assert grouped("ABCDEF") == "ABCD EF"
    assert parse_secret(grouped(SECRET)) == SECRET


@pytest.mark.parametrize(
    "typed",
    [
        SECRET,
        SECRET.lower(),
        "jbsw y3dp ehpk 3pxp JBSW Y3DP EHPK 3PXP",
        "JBSW-Y3DP-EHPK-3PXP-JBSW-Y3DP-EHPK-3PXP",
        f"  {SECRET}\n",
        SECRET + "=",  # padding typed where none is needed is ignored
    ],
)
def test_base32_secret_as_typed(typed):
    assert parse_secret(typed) == SECRET


def test_base32_secret_that_needs_padding():
    raw = bytes(range(100, 116))  # 128 bits: 26 base32 characters and 6 of padding
    padded = b32encode(raw).decode()
    assert padded.endswith("======")
    assert parse_secret(padded) == padded.rstrip("=")
    assert parse_secret(padded.rstrip("=").lower()) == padded.rstrip("=")


def test_hex_secret_as_typed():
    raw = bytes(range(1, 21))
    expected = b32encode(raw).decode().rstrip("=")
    assert parse_secret(raw.hex(), hexadecimal=True) == expected
    assert parse_secret(raw.hex().upper(), hexadecimal=True) == expected
    spaced = " ".join(raw.hex()[i : i + 4] for i in range(0, 40, 4))
    assert parse_secret(spaced, hexadecimal=True) == expected


@pytest.mark.parametrize("size", [16, 32, 64])
def test_secret_lengths_from_128_to_512_bits_are_accepted(size):
    raw = bytes(range(size))
    assert b32bytes(parse_secret(raw.hex(), hexadecimal=True)) == raw
    assert b32bytes(parse_secret(b32encode(raw).decode())) == raw


@pytest.mark.parametrize("size", [0, 10, 15, 65, 128])
def test_secrets_shorter_than_128_or_longer_than_512_bits_are_refused(size):
    raw = bytes(range(size))
    with pytest.raises(SecretError):
        parse_secret(raw.hex(), hexadecimal=True)
    with pytest.raises(SecretError):
        parse_secret(b32encode(raw).decode())


@pytest.mark.parametrize(
    "typed",
    [
        "not a secret at all!",
        "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PX1",  # 1 is not base32
        "0189" * 8,  # nor are 0, 8, 9
        "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJ",  # 33 characters: no whole number of bytes
        "JBSWY3DP=EHPK3PXPJBSWY3DPEHPK3PXP",  # padding in the middle
        "\u0408BSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",  # Cyrillic capital je
    ],
)
def test_garbage_base32_is_refused(typed):
    with pytest.raises(SecretError):
        parse_secret(typed)


@pytest.mark.parametrize(
    "typed",
    ["xyz" * 12, "0x" + "ab" * 20, "a" * 41, SECRET],
)
def test_garbage_hex_is_refused(typed):
    with pytest.raises(SecretError):
        parse_secret(typed, hexadecimal=True)


def test_secret_error_is_a_value_error_with_a_message_for_people():
    with pytest.raises(SecretError, match="128 to 512 bits"):
        parse_secret("ab" * 15, hexadecimal=True)
    with pytest.raises(SecretError, match="hexadecimal"):
        parse_secret("zz" * 16, hexadecimal=True)
    assert issubclass(SecretError, ValueError)


# --- codes as typed ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "digits", "cleaned"),
    [
        ("123456", 6, "123456"),
        (" 123 456 ", 6, "123456"),
        ("123\t456\n", 6, "123456"),
        ("1234 5678", 8, "12345678"),
        ("000000", 6, "000000"),
    ],
)
def test_clean_code_keeps_ascii_digits_of_the_right_length(typed, digits, cleaned):
    assert clean_code(typed, digits) == cleaned


@pytest.mark.parametrize(
    ("typed", "digits"),
    [
        ("\uff11\uff12\uff13\uff14\uff15\uff16", 6),  # fullwidth digits
        ("\u0661\u0662\u0663\u0664\u0665\u0666", 6),  # Arabic-Indic digits
        ("\u00b2\u00b3\u2074\u2075\u2076\u2077", 6),  # superscripts (str.isdigit says yes)
        ("12345", 6),
        ("1234567", 6),
        ("123456", 8),
        ("12345678", 6),
        ("", 6),
        ("12345a", 6),
        ("-12345", 6),
        ("+12345", 6),
        ("123-456", 6),
        ("12.456", 6),
    ],
)
def test_clean_code_refuses_anything_else(typed, digits):
    assert clean_code(typed, digits) is None


def test_module_constants_match_the_product():
    # PRODUCT §8: one step either side, hints for 2-10 steps, 160-bit app secrets
    assert (totp.WINDOW, totp.HINT_STEPS, totp.ENROL_SEARCH_STEPS) == (1, 10, 10)
    assert totp.SECRET_BYTES == 20
    assert (totp.MIN_SECRET_BYTES, totp.MAX_SECRET_BYTES) == (16, 64)


def test_provisioning_uri_gives_an_app_the_same_codes():
    uri = APP.provisioning_uri("alice", "Example Ltd")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    query = parse_qs(parts.query)
    assert query["secret"] == [SECRET]
    assert query["issuer"] == ["Example Ltd"]
    assert pyotp.parse_uri(uri).at(NOW) == reference(NOW)


def test_provisioning_uri_of_a_sixty_second_sha256_token():
    params = TotpParameters(SECRET, digits=8, period=60, algorithm="sha256")
    app = pyotp.parse_uri(params.provisioning_uri("alice", "camauth"))
    assert app.at(NOW) == reference(NOW, digits=8, period=60, digest=hashlib.sha256)
