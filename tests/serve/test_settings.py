"""ServeSettings validates itself: the token rules and the limits."""

from __future__ import annotations

import pytest

from edgexray.serve.settings import ServeSettings


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "0.0.0.0", "kiosk.local"])
def test_every_address_needs_a_token_unless_told_to_run_open(host: str) -> None:
    with pytest.raises(ValueError, match="a token is required"):
        ServeSettings(host=host)
    assert ServeSettings(host=host, token="t").token == "t"
    assert ServeSettings(host=host, insecure_no_auth=True).token is None


def test_a_token_and_the_insecure_flag_contradict_each_other() -> None:
    with pytest.raises(ValueError, match="give one or the other"):
        ServeSettings(token="t", insecure_no_auth=True)


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
        ServeSettings(**{"token": "t", **changes})  # type: ignore[arg-type]


def test_the_token_is_not_in_the_repr() -> None:
    assert "secret" not in repr(ServeSettings(token="secret"))


def test_the_allowed_hosts_are_loopback_the_bound_address_and_the_names_added() -> None:
    settings = ServeSettings(host="::", token="t", allow_hosts=("Kiosk.Local", "*.ward.example"))
    assert settings.allowed_hosts == (
        "localhost",
        "127.0.0.1",
        "[::1]",
        "[::]",
        "kiosk.local",
        "*.ward.example",
    )


@pytest.mark.parametrize("name", ["*", "http://kiosk", "kiosk:8080", "kiosk/x", "", "a..b"])
def test_an_allowed_host_that_is_not_a_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a host name or address"):
        ServeSettings(token="t", allow_hosts=(name,))
