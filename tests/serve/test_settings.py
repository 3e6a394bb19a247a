"""ServeSettings validates itself: the token rules and the limits."""

from __future__ import annotations

import pytest

from edgexray.serve.settings import ServeSettings


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "localhost"])
def test_loopback_needs_no_token(host: str) -> None:
    assert ServeSettings(host=host).token is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "kiosk.local"])
def test_other_addresses_need_a_token_or_the_insecure_flag(host: str) -> None:
    with pytest.raises(ValueError, match="without a token"):
        ServeSettings(host=host)
    assert ServeSettings(host=host, token="t").token == "t"
    assert ServeSettings(host=host, insecure_no_auth=True).token is None


@pytest.mark.parametrize(
    "changes",
    [
        {"token": "  "},
        {"port": 70000},
        {"workers": 0},
        {"queue_size": -1},
        {"request_timeout": 0},
        {"max_upload_bytes": 0},
    ],
)
def test_bad_values_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ServeSettings(**changes)  # type: ignore[arg-type]


def test_the_token_is_not_in_the_repr() -> None:
    assert "secret" not in repr(ServeSettings(token="secret"))
