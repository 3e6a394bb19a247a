"""setup.cfg lists packages by hand (two folders are renamed on install): keep the list complete."""

from __future__ import annotations

import configparser
from pathlib import Path

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
