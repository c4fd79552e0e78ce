"""``livetape serve`` checks the storage before it starts: a bad storage URL, a store that
does not answer, a bucket that does not exist or a wrong secret key stop it with one line,
like every bad setting, and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from livetape_harness.seaweed import SeaweedS3
from livetape_harness.server import free_port, serve_once


def refused(data_dir: Path, **env: str) -> str:
    """``serve`` stopped at once; the one line it said about the storage."""
    done = serve_once(data_dir, **env)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0] == "Error: bad settings:", done.stderr
    assert len(lines) == 2 and lines[1].startswith("  LIVETAPE_STORAGE_URL: "), done.stderr
    return lines[1]


def test_an_unreachable_store(tmp_path: Path, seaweed: SeaweedS3) -> None:
    url = f"s3://livetape-test?endpoint=http://127.0.0.1:{free_port()}&region=us-east-1"
    line = refused(tmp_path, LIVETAPE_STORAGE_URL=url, LIVETAPE_S3_MAX_ATTEMPTS="1",
                   **seaweed.env)
    assert "is unreachable" in line and "Could not connect" in line


def test_a_bucket_that_does_not_exist(tmp_path: Path, seaweed: SeaweedS3) -> None:
    url = seaweed.storage_url().replace(f"s3://{seaweed.bucket}", "s3://no-such-bucket")
    line = refused(tmp_path, LIVETAPE_STORAGE_URL=url, **seaweed.env)
    assert "s3://no-such-bucket/" in line and "no such bucket" in line


def test_a_wrong_secret_key(tmp_path: Path, seaweed: SeaweedS3) -> None:
    env = {**seaweed.env, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    line = refused(tmp_path, LIVETAPE_STORAGE_URL=seaweed.storage_url(), **env)
    assert "access denied" in line and "AWS_SECRET_ACCESS_KEY" in line
    assert "not-the-secret" not in line


def test_no_credentials_at_all(tmp_path: Path, seaweed: SeaweedS3,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    line = refused(tmp_path, LIVETAPE_STORAGE_URL=seaweed.storage_url())
    assert "no credentials" in line


@pytest.mark.parametrize(("url", "said"), [
    ("ftp://bucket/x", "not a file:// or s3:// URL"),
    ("s3://B?endpoint=http://127.0.0.1:9", "bad bucket name"),
    ("s3://bucket?endpoint=127.0.0.1:9000", "endpoint must be an http(s):// URL"),
    ("s3://bucket?endpoint=http://h&addressing=sideways", "addressing must be"),
    ("s3://bucket?endpoint=http://h&secret=x", "unknown option(s) secret"),
    ("s3://bucket/../x?endpoint=http://h", "bad key prefix"),
])
def test_a_malformed_url(tmp_path: Path, url: str, said: str) -> None:
    assert said in refused(tmp_path, LIVETAPE_STORAGE_URL=url)


def test_a_folder_that_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    line = refused(tmp_path / "data", LIVETAPE_STORAGE_URL=f"file://{tmp_path}/file/store")
    assert f"{tmp_path}/file/store" in line


def test_a_good_store_starts(start_server: object, seaweed: SeaweedS3, s3_prefix: str,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in seaweed.env.items():
        monkeypatch.setenv(name, value)
    server = start_server(storage_url=seaweed.storage_url(s3_prefix))  # type: ignore[operator]
    assert server.process.poll() is None
