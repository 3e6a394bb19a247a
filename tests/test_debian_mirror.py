"""tools/arm64/debian_mirror.py: tools/arm64-check's debootstrap takes the Debian mirror from the
machine's own apt configuration, so no mirror host is written into the repository."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "arm64" / "debian_mirror.py"
spec = importlib.util.spec_from_file_location("debian_mirror", SCRIPT)
assert spec is not None and spec.loader is not None
mirror = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = mirror  # dataclasses look their module up there
spec.loader.exec_module(mirror)

BOOKWORM = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n'


def machine(tmp_path: Path, os_release: str = BOOKWORM, **files: str) -> Path:
    """A file system root with /etc/os-release and the given /etc/apt files ('list' is
    sources.list; other names go to sources.list.d)."""
    apt = tmp_path / "etc" / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (tmp_path / "etc" / "os-release").write_text(os_release)
    for name, text in files.items():
        path = apt / "sources.list" if name == "list" else apt / "sources.list.d" / name
        path.write_text(text)
    return tmp_path


DEB822 = """Types: deb
# a comment
URIs: http://security.mirror.test/debian-security
Suites: bookworm-security
Components: main

Types: deb deb-src
URIs: http://mirror.test/debian/
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def test_a_deb822_file_gives_the_release_entry_not_security(tmp_path: Path) -> None:
    root = machine(tmp_path, **{"debian.sources": DEB822})
    assert mirror.debian_mirror(root) == "http://mirror.test/debian"


def test_a_disabled_stanza_is_passed_over(tmp_path: Path) -> None:
    disabled = "Types: deb\nURIs: http://off.test/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n"
    root = machine(tmp_path, **{"a-off.sources": disabled, "b.sources": DEB822})
    assert mirror.debian_mirror(root) == "http://mirror.test/debian"


def test_the_one_line_format_with_options(tmp_path: Path) -> None:
    listing = (
        "# deb http://commented.test/debian bookworm main\n"
        "deb-src http://src.test/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.test/debian bookworm-updates main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.test/debian bookworm main non-free\n"
    )
    root = machine(tmp_path, list=listing)
    assert mirror.debian_mirror(root) == "http://one.test/debian"


def test_an_entry_for_another_release_or_without_main_does_not_count(tmp_path: Path) -> None:
    listing = "deb http://old.test/debian bullseye main\ndeb http://contrib.test/debian bookworm contrib\n"
    root = machine(tmp_path, list=listing)
    with pytest.raises(ValueError, match="no enabled 'deb' entry for bookworm"):
        mirror.debian_mirror(root)


def test_a_host_that_is_not_debian_needs_the_variable(tmp_path: Path) -> None:
    root = machine(tmp_path, os_release="ID=ubuntu\nVERSION_CODENAME=noble\n", list="")
    with pytest.raises(ValueError, match="EDGEXRAY_DEBIAN_MIRROR"):
        mirror.debian_mirror(root)


def test_the_command_prints_the_mirror_or_one_line_and_exit_1(tmp_path: Path) -> None:
    good = machine(tmp_path / "good", **{"debian.sources": DEB822})
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(good)], capture_output=True, text=True
    )
    assert (done.returncode, done.stdout) == (0, "http://mirror.test/debian\n")
    bad = machine(tmp_path / "bad")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(bad)], capture_output=True, text=True
    )
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_arm64_check_names_no_mirror_and_reads_the_apt_configuration() -> None:
    script = (ROOT / "tools" / "arm64-check").read_text()
    assert "http://" not in script and "https://" not in script
    assert "tools/arm64/debian_mirror.py" in script and "EDGEXRAY_DEBIAN_MIRROR" in script
    # The packages are installed when missing, and binfmt is enabled before the second stage.
    assert "tools/ensure-debs qemu-aarch64-static:qemu-user-static" in script
    body = script.split('[ "$prepare_only" = 1 ]')[0]
    assert body.index("\nenable_binfmt\n") < body.index("\nbuild_rootfs\n")
