import pytest

from dfr_deploy import base_image
from dfr_deploy.errors import DfrError


@pytest.mark.parametrize("tag,suite", [("debian:bookworm-slim", "bookworm"), ("debian:trixie", "trixie"),
                                       ("registry.local:5000/mirror/debian:bookworm-slim", "bookworm")])
def test_suite_of(tag, suite):
    assert base_image.suite_of(tag) == suite


def test_suite_of_rejects_non_debian():
    with pytest.raises(DfrError, match="Debian release"):
        base_image.suite_of("ubuntu:24.04")


def test_mirror_from_one_line_and_deb822_sources(tmp_path):
    legacy = tmp_path / "sources.list"
    legacy.write_text("deb http://security.debian.org/debian-security bookworm-security main\n"
                      "deb [arch=amd64] http://mirror.example.net/debian/ bookworm main\n")
    assert base_image.mirror_from_apt((str(legacy),)) == "http://mirror.example.net/debian"
    folder = tmp_path / "sources.list.d"
    folder.mkdir()
    (folder / "debian.sources").write_text("Types: deb\nURIs: http://deb.example.org/debian\nSuites: bookworm\n")
    assert base_image.mirror_from_apt((str(tmp_path / "none.list"), str(folder))) == "http://deb.example.org/debian"
    assert base_image.mirror_from_apt((str(tmp_path / "none.list"),)) == base_image.DEFAULT_MIRROR


def test_security_mirror_and_sources_list(tmp_path):
    legacy = tmp_path / "sources.list"
    legacy.write_text("deb http://mirror.example.net/debian bookworm main\n"
                      "deb http://sec.example.net/debian-security bookworm-security main\n")
    assert base_image.mirror_from_apt((str(legacy),), suffix="/debian-security") == "http://sec.example.net/debian-security"
    assert base_image.mirror_from_apt((str(tmp_path / "none"),), suffix="/debian-security") == base_image.DEFAULT_SECURITY_MIRROR
    text = base_image.sources_list("bookworm", "http://m/debian", "http://s/debian-security")
    assert text.splitlines() == ["deb http://m/debian bookworm main", "deb http://m/debian bookworm-updates main",
                                 "deb http://s/debian-security bookworm-security main"]
