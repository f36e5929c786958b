"""Tests for seqconv.data.download against a real HTTP server on 127.0.0.1 (see conftest.http_server)."""

from __future__ import annotations

import hashlib
import io
import socket
import tarfile
import zipfile
from pathlib import Path

import pytest

from seqconv.data.download import (
    ArchiveError,
    ChecksumError,
    DownloadError,
    download,
    extract_archive,
    fetch_and_extract,
    sha256_file,
)

FILES = {"data/README.txt": b"hello\n", "data/train/0.txt": b"zero\n", "data/train/1.txt": b"one\n" * 1000}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_tar(path: Path, files: dict[str, bytes] = FILES, extra: tuple[tarfile.TarInfo, ...] = ()) -> Path:
    """Write a tar archive (compressed according to the suffix) with ``files`` then the crafted ``extra``."""
    with tarfile.open(path, "w:gz" if path.name.endswith("gz") else "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return path


def make_zip(path: Path, files: dict[str, bytes] = FILES, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def assert_extracted(directory: Path, files: dict[str, bytes] = FILES) -> None:
    for name, data in files.items():
        assert (directory / name).read_bytes() == data


def assert_only(directory: Path, *names: str) -> None:
    """``directory`` holds exactly ``names``: no half-written file, no temporary file or directory."""
    assert sorted(p.name for p in directory.iterdir()) == sorted(names)


# --- download ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["data.tar.gz", "data.tgz", "data.tar", "data.zip"])
def test_fetch_and_extract_downloads_verifies_and_extracts(http_server, tmp_path, name):
    make = make_zip if name.endswith(".zip") else make_tar
    archive = make(http_server.root / name)

    out = fetch_and_extract(http_server.url(name), tmp_path, sha256_file(archive))

    assert out == tmp_path / "data"  # the archive stem, without .tar.gz / .tgz / .tar / .zip
    assert_extracted(out)
    assert (tmp_path / name).read_bytes() == archive.read_bytes()
    assert http_server.requests == [f"/{name}"]
    assert_only(tmp_path, name, "data")


def test_second_fetch_and_extract_needs_no_server(http_server, tmp_path):
    archive = make_tar(http_server.root / "data.tar.gz")
    first = fetch_and_extract(http_server.url("data.tar.gz"), tmp_path, sha256_file(archive))
    http_server.close()

    second = fetch_and_extract(http_server.url("data.tar.gz"), tmp_path, sha256_file(archive))

    assert second == first
    assert_extracted(second)
    assert http_server.requests == ["/data.tar.gz"]


def test_cached_download_makes_no_request(http_server, tmp_path):
    (http_server.root / "f.bin").write_bytes(b"payload")
    for expected in (None, sha256(b"payload"), None):
        assert download(http_server.url("f.bin"), tmp_path / "f.bin", expected) == tmp_path / "f.bin"
    assert http_server.requests == ["/f.bin"]


def test_cached_file_with_wrong_checksum_is_downloaded_again(http_server, tmp_path):
    (http_server.root / "f.bin").write_bytes(b"good")
    (tmp_path / "f.bin").write_bytes(b"stale")

    download(http_server.url("f.bin"), tmp_path / "f.bin", sha256(b"good").upper())

    assert (tmp_path / "f.bin").read_bytes() == b"good"
    assert http_server.requests == ["/f.bin"]


def test_download_streams_in_chunks_and_creates_parent_dirs(http_server, tmp_path):
    data = bytes(range(256)) * 1000
    (http_server.root / "big.bin").write_bytes(data)

    dest = download(http_server.url("big.bin"), tmp_path / "a/b/big.bin", sha256(data), chunk_size=1000)

    assert dest.read_bytes() == data


def test_checksum_mismatch_raises_and_leaves_nothing(http_server, tmp_path):
    (http_server.root / "f.bin").write_bytes(b"tampered")
    wrong = sha256(b"original")

    with pytest.raises(ChecksumError) as excinfo:
        download(http_server.url("f.bin"), tmp_path / "f.bin", wrong)

    message = str(excinfo.value)
    assert wrong in message and sha256(b"tampered") in message and http_server.url("f.bin") in message
    assert isinstance(excinfo.value, DownloadError)
    assert_only(tmp_path)


@pytest.mark.parametrize("status", [404, 500])
def test_http_error_names_url_and_offline_options(http_server, tmp_path, status):
    (http_server.root / "f.bin").write_bytes(b"x")
    http_server.fail("f.bin", status)

    with pytest.raises(DownloadError) as excinfo:
        download(http_server.url("f.bin"), tmp_path / "f.bin")

    message = str(excinfo.value)
    assert http_server.url("f.bin") in message and str(status) in message
    assert "data.url=" in message and "data.path=" in message
    assert not isinstance(excinfo.value, ChecksumError)
    assert_only(tmp_path)


def test_connection_refused_raises_download_error(tmp_path):
    with socket.socket() as s:  # find a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/f.bin"

    with pytest.raises(DownloadError, match="data.url=") as excinfo:
        download(url, tmp_path / "f.bin", timeout=5)

    assert url in str(excinfo.value)
    assert_only(tmp_path)


def test_stalled_server_times_out_with_download_error(tmp_path):
    """The server accepts the connection but never answers: the timeout ends the wait (torch.hub has none)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()  # the kernel completes the handshake; nobody ever reads the request
        url = f"http://127.0.0.1:{server.getsockname()[1]}/f.bin"
        with pytest.raises(DownloadError, match="timed out") as excinfo:
            download(url, tmp_path / "f.bin", timeout=0.5)

    assert url in str(excinfo.value) and "data.url=" in str(excinfo.value)
    assert_only(tmp_path)


def test_connection_closed_early_raises_download_error(http_server, tmp_path):
    (http_server.root / "f.bin").write_bytes(b"x" * 10_000)
    http_server.truncate("f.bin", 4_000)

    with pytest.raises(DownloadError, match="received 4000 of 10000 bytes"):
        download(http_server.url("f.bin"), tmp_path / "f.bin")  # no sha256: the length alone catches it

    assert_only(tmp_path)


def test_download_accepts_file_urls_and_local_paths(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"local")

    assert download(source.as_uri(), tmp_path / "a.bin", sha256(b"local")).read_bytes() == b"local"
    assert download(str(source), tmp_path / "b.bin", sha256(b"local")).read_bytes() == b"local"
    with pytest.raises(DownloadError, match="missing.bin"):
        download(str(tmp_path / "missing.bin"), tmp_path / "c.bin")


# --- extract_archive: corrupt archives ---------------------------------------------------------------------


def test_truncated_tar_gz_raises_archive_error_and_leaves_nothing(tmp_path):
    archive = make_tar(tmp_path / "data.tar.gz", {"big.bin": bytes(range(256)) * 4000})
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])

    with pytest.raises(ArchiveError, match="corrupt or truncated") as excinfo:
        extract_archive(archive, tmp_path / "out")

    assert str(archive) in str(excinfo.value)
    assert_only(tmp_path, "data.tar.gz")


def test_truncated_plain_tar_raises_archive_error_and_leaves_nothing(tmp_path):
    archive = make_tar(tmp_path / "data.tar", {"a.txt": b"a" * 600, "b.bin": b"b" * 100_000})
    archive.write_bytes(archive.read_bytes()[:50_000])  # cut inside b.bin

    with pytest.raises(ArchiveError, match="corrupt or truncated"):
        extract_archive(archive, tmp_path / "out")

    assert_only(tmp_path, "data.tar")


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_zip_raises_archive_error_and_leaves_nothing(tmp_path, damage):
    archive = make_zip(tmp_path / "data.zip")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"not a zip" * 100)

    with pytest.raises(ArchiveError) as excinfo:
        extract_archive(archive, tmp_path / "out")

    assert str(archive) in str(excinfo.value)
    assert_only(tmp_path, "data.zip")


def test_zip_with_bad_crc_in_a_later_member_leaves_nothing(tmp_path):
    """The damage only shows while extracting, after first.txt was written: the partial extraction goes."""
    files = {"first.txt": b"fine", "second.txt": b"will be damaged"}
    archive = make_zip(tmp_path / "data.zip", files, compression=zipfile.ZIP_STORED)
    archive.write_bytes(archive.read_bytes().replace(b"will be damaged", b"WILL BE DAMAGED"))

    with pytest.raises(ArchiveError, match="corrupt or truncated"):
        extract_archive(archive, tmp_path / "out")

    assert_only(tmp_path, "data.zip")


def test_unknown_archive_type_is_refused(tmp_path):
    (tmp_path / "data.rar").write_bytes(b"x")
    with pytest.raises(ArchiveError, match="unknown archive type"):
        extract_archive(tmp_path / "data.rar", tmp_path / "out")


# --- extract_archive: members escaping the target ----------------------------------------------------------


@pytest.fixture(params=["data-filter", "own-checks-only"])
def tar_filter(request, monkeypatch):
    """Run a test with tarfile's "data" filter and again without it, as on Pythons older than 3.11.4."""
    if request.param == "own-checks-only":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)


def _device() -> tarfile.TarInfo:
    info = tarfile.TarInfo("data/null")
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    return info


def _fifo() -> tarfile.TarInfo:
    info = tarfile.TarInfo("data/fifo")
    info.type = tarfile.FIFOTYPE
    return info


UNSAFE_TAR_MEMBERS = {
    "dotdot": (tarfile.TarInfo("../evil"), "../evil"),
    "nested-dotdot": (tarfile.TarInfo("data/../../evil"), "data/../../evil"),
    "absolute": (tarfile.TarInfo("/abs/path"), "/abs/path"),
    "symlink-absolute": (link("data/passwd", "/etc/passwd"), "data/passwd"),
    "symlink-outside": (link("data/up", "../../x"), "data/up"),
    "hardlink-outside": (link("data/hard", "../outside", tarfile.LNKTYPE), "data/hard"),
    "hardlink-absolute": (link("data/hard", "/etc/passwd", tarfile.LNKTYPE), "data/hard"),
    "device": (_device(), "data/null"),
    "fifo": (_fifo(), "data/fifo"),
}


@pytest.mark.parametrize("case", UNSAFE_TAR_MEMBERS)
def test_unsafe_tar_member_is_refused_before_anything_is_extracted(tmp_path, tar_filter, case):
    member, name = UNSAFE_TAR_MEMBERS[case]
    archive = make_tar(tmp_path / "evil.tar.gz", extra=(member,))  # the safe FILES come first

    with pytest.raises(ArchiveError) as excinfo:
        extract_archive(archive, tmp_path / "out")

    assert str(archive) in str(excinfo.value) and repr(name) in str(excinfo.value)
    assert_only(tmp_path, "evil.tar.gz")  # not even the safe members


@pytest.mark.parametrize(
    "chain",
    [
        # Each looks inside when read as text, but "data/here" is the root, so both really lead above it.
        (link("data/here", ".."), link("data/here/up", "..")),  # a member path through an archived symlink
        (link("data/here", ".."), link("data/out", "here/../..")),  # a link target through one
    ],
    ids=["member-path", "link-target"],
)
def test_symlink_chains_that_escape_are_refused(tmp_path, tar_filter, chain):
    archive = make_tar(tmp_path / "evil.tar", extra=chain)

    with pytest.raises(ArchiveError, match=repr(chain[1].name)):
        extract_archive(archive, tmp_path / "out")

    assert_only(tmp_path, "evil.tar")


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/path.txt", "data/..\\..\\evil.txt"])
def test_unsafe_zip_member_is_refused_before_anything_is_extracted(tmp_path, name):
    archive = make_zip(tmp_path / "evil.zip", {**FILES, name: b"evil"})

    with pytest.raises(ArchiveError) as excinfo:
        extract_archive(archive, tmp_path / "out")

    assert str(archive) in str(excinfo.value) and repr(name) in str(excinfo.value)
    assert_only(tmp_path, "evil.zip")


def test_safe_links_inside_the_tree_are_extracted(tmp_path, tar_filter):
    extra = (
        link("data/latest.txt", "train/1.txt"),
        link("data/train/readme", "../README.txt"),
        link("data/copy.txt", "data/train/0.txt", tarfile.LNKTYPE),
    )
    archive = make_tar(tmp_path / "data.tar.gz", extra=extra)

    out = extract_archive(archive, tmp_path / "out")

    assert_extracted(out)
    assert (out / "data/latest.txt").is_symlink()
    assert (out / "data/latest.txt").read_bytes() == FILES["data/train/1.txt"]
    assert (out / "data/train/readme").read_bytes() == FILES["data/README.txt"]
    assert (out / "data/copy.txt").read_bytes() == FILES["data/train/0.txt"]


# --- extract_archive: caching ------------------------------------------------------------------------------


def test_second_extract_is_a_no_op(tmp_path):
    archive = make_tar(tmp_path / "data.tar.gz")
    out = extract_archive(archive, tmp_path / "out")
    (out / "data/README.txt").unlink()  # would come back if the archive were extracted again

    assert extract_archive(archive, tmp_path / "out") == out
    assert not (out / "data/README.txt").exists()
    assert (out / ".extracted").read_text().strip() == sha256_file(archive)
    assert_only(tmp_path, "data.tar.gz", "out")


def test_a_different_archive_replaces_the_old_extraction(tmp_path):
    out = extract_archive(make_tar(tmp_path / "v1.tar", {"old.txt": b"1"}), tmp_path / "out")
    extract_archive(make_zip(tmp_path / "v2.zip", {"new.txt": b"2"}), out)

    assert_only(out, "new.txt", ".extracted")


def test_an_empty_target_directory_is_used(tmp_path):
    (tmp_path / "out").mkdir()
    assert_extracted(extract_archive(make_zip(tmp_path / "data.zip"), tmp_path / "out"))


def test_a_foreign_non_empty_directory_is_not_overwritten(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep me")

    with pytest.raises(FileExistsError, match="not extracted by seqconv"):
        extract_archive(make_zip(tmp_path / "data.zip"), tmp_path / "out")

    assert_only(tmp_path / "out", "mine.txt")


def test_fetch_and_extract_uses_the_given_filename(http_server, tmp_path):
    make_zip(http_server.root / "v1.0.10.zip")

    out = fetch_and_extract(http_server.url("v1.0.10.zip"), tmp_path, None, filename="fsdd-1.0.10.zip")

    assert out == tmp_path / "fsdd-1.0.10"
    assert_extracted(out)
