"""setup.cfg lists packages by hand (two folders are renamed on install): keep the list complete."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

from edgexray.extras import EXTRAS, install_hint

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed_in_setup_cfg():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    found = set()
    for top, name in (("edgexray", "edgexray"), ("export", "edgexray_export")):
        for init in (ROOT / top).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / top).parts
            found.add(".".join((name, *relative)))
    assert found - listed == set(), "add these to setup.cfg [options] packages"
    assert "export" not in listed  # never install a generic top-level `export`


def test_every_install_hint_names_an_extra_setup_cfg_declares():
    """A message telling a user to install an extra goes through install_hint, whose list is
    setup.cfg's: a hint never names an extra that does not exist, nor `edgexray[X]` from an index
    edgexray is not on (where someone else's package of that name could be)."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    declared = set(config["options.extras_require"]) - {"all", "dev"}
    assert set(EXTRAS) == declared
    with pytest.raises(ValueError, match="not an edgexray extra: dicomm"):
        install_hint("dicomm")
    # No message writes a hint by hand.
    by_hand = re.compile(r"pip install '?edgexray\[")
    for path in [*(ROOT / "edgexray").rglob("*.py"), *(ROOT / "export").rglob("*.py")]:
        if path.name != "extras.py":
            assert not by_hand.search(path.read_text(encoding="utf-8")), path


class _Installed:
    """A stand-in for importlib.metadata's Distribution: a version and a direct_url.json."""

    def __init__(self, direct_url: str | None) -> None:
        self.version = "0.1.0"
        self._direct_url = direct_url

    def read_text(self, name: str) -> str | None:
        return self._direct_url if name == "direct_url.json" else None


def test_the_hint_names_the_wheel_or_folder_edgexray_was_installed_from(tmp_path, monkeypatch):
    import edgexray.extras as extras

    wheel = tmp_path / "my wheels" / "edgexray-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"")
    url = '{"url": "file://' + str(wheel).replace(" ", "%20") + '", "archive_info": {}}'
    monkeypatch.setattr(extras, "distribution", lambda name: _Installed(url))
    assert install_hint("tflite", "onnx") == f"pip install '{wheel}[tflite,onnx]'"
    wheel.unlink()  # gone since: its name, and where to read how to get it again
    assert install_hint("serve") == (
        "pip install 'edgexray-0.1.0-py3-none-any.whl[serve]' "
        "(the wheel edgexray was installed from; docs/device-install.md)"
    )
    monkeypatch.setattr(extras, "distribution", lambda name: _Installed(None))
    assert install_hint("serve").startswith("pip install 'edgexray-0.1.0-py3-none-any.whl[serve]'")
