"""Backups in S3 (or any S3-compatible endpoint): upload, list, download.

Keys are `<prefix>/<backup name>` plus the same side files as on disk. Upload order is dump,
checksum, manifest: a remote backup counts as complete only when its manifest is there. Large
files go up in a multipart upload, which S3 makes visible only when it is completed, so an
interrupted upload never leaves a partial object under the final key. The dump carries its sha256
as object metadata; after the upload we read back the size and that metadata.

Credentials come from the standard AWS chain (environment, ~/.aws, instance role), never from our
configuration, and are never printed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from migtool.backup import naming
from migtool.backup.catalog import LocalBackup
from migtool.backup.compression import CHUNK
from migtool.backup.files import create_private, fsync_dir, publish_no_replace, remove_quietly, write_atomic
from migtool.backup.manifest import Manifest, ManifestError, parse_checksum_file
from migtool.config import S3Config
from migtool.errors import CheckFailed, EnvironmentProblem, MigtoolError

MiB = 1024 * 1024
ProgressFn = Callable[[int], None]  # bytes just transferred


@dataclass(frozen=True)
class RemoteBackup:
    name: str
    size: int
    last_modified: datetime
    has_manifest: bool
    has_checksum: bool

    @property
    def complete(self) -> bool:
        return self.has_manifest and self.has_checksum


class S3Store:
    def __init__(self, config: S3Config, client: Any = None):
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config as BotoConfig

        # boto's debug logs (shown with -v) print request headers, signatures and key ids: keep them out.
        for name in ("boto3", "botocore", "s3transfer", "urllib3"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.config = config
        self.client = client or boto3.client(
            "s3", endpoint_url=config.endpoint_url, region_name=config.region,
            config=BotoConfig(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10,
                              read_timeout=120),
        )
        part = config.part_size_mb * MiB
        self.transfer = TransferConfig(multipart_threshold=part, multipart_chunksize=part, max_concurrency=4)

    def describe(self) -> str:
        where = f"s3://{self.config.bucket}/{self.config.prefix + '/' if self.config.prefix else ''}"
        return where + (f" at {self.config.endpoint_url}" if self.config.endpoint_url else "")

    def key(self, filename: str) -> str:
        return f"{self.config.prefix}/{filename}" if self.config.prefix else filename

    def _encryption(self) -> dict[str, str]:
        args: dict[str, str] = {}
        if self.config.sse:
            args["ServerSideEncryption"] = self.config.sse
            if self.config.sse == "aws:kms" and self.config.kms_key_id:
                args["SSEKMSKeyId"] = self.config.kms_key_id
        return args

    # ------------------------------------------------------------------ upload

    def upload(self, backup: LocalBackup, progress: ProgressFn | None = None) -> dict[str, Any]:
        manifest = backup.manifest
        if manifest is None:
            raise CheckFailed(f"{backup.filename}: {backup.manifest_problem}; only whole backups are uploaded",
                              hint=f"migtool backups verify {backup.filename}")
        local_sha = sha256_file(backup.path)
        if local_sha != manifest.sha256 or backup.size != manifest.size:
            raise CheckFailed(f"{backup.filename} does not match its manifest (corrupt or modified); not uploaded",
                              hint=f"migtool backups verify {backup.filename}")
        key = self.key(backup.filename)
        extra = {"Metadata": {"sha256": manifest.sha256}, "ContentType": "application/octet-stream",
                 **self._encryption()}
        with self._errors(f"upload of {backup.filename} to {self.describe()}"):
            self.client.upload_file(str(backup.path), self.config.bucket, key, ExtraArgs=extra,
                                    Config=self.transfer, Callback=progress)
            head = self.client.head_object(Bucket=self.config.bucket, Key=key)
        remote_size = int(head.get("ContentLength", -1))
        remote_sha = (head.get("Metadata") or {}).get("sha256")
        if remote_size != manifest.size or remote_sha != manifest.sha256:
            raise EnvironmentProblem(
                f"{backup.filename}: S3 reports {remote_size} bytes (sha256 {remote_sha}), expected "
                f"{manifest.size} bytes (sha256 {manifest.sha256}); the remote copy is not trustworthy",
                hint=f"migtool backups upload {backup.filename}")
        for side in (naming.checksum_name(backup.filename), naming.manifest_name(backup.filename)):
            body = (backup.path.parent / side).read_bytes()
            with self._errors(f"upload of {side} to {self.describe()}"):
                self.client.put_object(Bucket=self.config.bucket, Key=self.key(side), Body=body,
                                       ContentType="application/json" if side.endswith(".json") else "text/plain",
                                       **self._encryption())
        self._abort_leftover_uploads(key)
        return {"bucket": self.config.bucket, "key": key, "size": remote_size, "sha256": remote_sha,
                "server_side_encryption": head.get("ServerSideEncryption")}

    def _abort_leftover_uploads(self, key: str) -> None:
        """Parts of earlier, interrupted uploads of this very backup cost storage and serve nobody."""
        try:
            found = self.client.list_multipart_uploads(Bucket=self.config.bucket, Prefix=key).get("Uploads", [])
            for upload in found:
                if upload.get("Key") == key:
                    self.client.abort_multipart_upload(Bucket=self.config.bucket, Key=key,
                                                       UploadId=upload["UploadId"])
        except Exception as exc:  # housekeeping only: the backup itself is safely uploaded
            logging.getLogger(__name__).debug("could not abort leftover multipart uploads: %s", exc)

    # ------------------------------------------------------------------ list

    def list(self) -> list[RemoteBackup]:
        prefix = f"{self.config.prefix}/" if self.config.prefix else ""
        objects: dict[str, dict[str, Any]] = {}
        with self._errors(f"listing {self.describe()}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.config.bucket,
                                                                                Prefix=prefix):
                for obj in page.get("Contents", []):
                    rel = obj["Key"][len(prefix):]
                    if "/" not in rel:
                        objects[rel] = obj
        out = []
        for rel, obj in objects.items():
            if naming.parse_name(rel) is None:
                continue
            out.append(RemoteBackup(rel, int(obj["Size"]), obj["LastModified"],
                                    naming.manifest_name(rel) in objects, naming.checksum_name(rel) in objects))
        out.sort(key=lambda r: (naming.parse_name(r.name).created, r.name), reverse=True)
        return out

    # ------------------------------------------------------------------ download

    def download(self, filename: str, backup_dir: Path, progress: ProgressFn | None = None) -> Path:
        """Fetch into backup_dir: temp name, checksum against manifest and .sha256, then publish."""
        if naming.parse_name(filename) is None:
            raise MigtoolError(f"{filename} is not a migtool backup name", hint="see `migtool backups list --remote`")
        final = backup_dir / filename
        sides = {s: backup_dir / s for s in (naming.manifest_name(filename), naming.checksum_name(filename))}
        if final.exists() or any(p.exists() for p in sides.values()):
            raise CheckFailed(f"{filename} already exists in {backup_dir}; not overwritten",
                              hint=f"migtool backups verify {filename}")
        manifest_bytes = self._get_small(naming.manifest_name(filename), "its manifest")
        checksum_bytes = self._get_small(naming.checksum_name(filename), "its .sha256 file")
        try:
            manifest = Manifest.from_dict(json.loads(manifest_bytes))
            recorded = parse_checksum_file(checksum_bytes.decode("utf-8"), filename)
        except (ValueError, ManifestError) as exc:
            raise CheckFailed(f"the remote manifest or checksum of {filename} is unusable: {exc}") from None
        if recorded != manifest.sha256 or manifest.name != filename:
            raise CheckFailed(f"the remote manifest and .sha256 file of {filename} disagree; not downloaded")

        backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = backup_dir / naming.partial_name(filename)
        published = False
        written_sides: list[Path] = []
        try:
            fd = create_private(partial)
            with os.fdopen(fd, "wb") as f, self._errors(f"download of {filename} from {self.describe()}"):
                self.client.download_fileobj(self.config.bucket, self.key(filename), f, Config=self.transfer,
                                             Callback=progress)
                f.flush()
                os.fsync(f.fileno())
            got = sha256_file(partial)
            size = partial.stat().st_size
            if got != manifest.sha256 or size != manifest.size:
                raise CheckFailed(
                    f"downloaded {filename} does not match its manifest: sha256 {got[:16]}... "
                    f"({size} bytes), expected {manifest.sha256[:16]}... ({manifest.size} bytes); "
                    "checksum mismatch, nothing was kept",
                    hint="the copy in S3 is damaged: use another backup (migtool backups list --remote)")
            for name, path in sides.items():
                write_atomic(path, manifest_bytes if name.endswith(naming.MANIFEST_SUFFIX) else checksum_bytes,
                             replace=False)
                written_sides.append(path)
            publish_no_replace(partial, final)
            published = True
            remove_quietly(backup_dir / naming.verified_name(filename))  # said something about an older copy
            fsync_dir(backup_dir)
        except FileExistsError:
            raise CheckFailed(f"{filename} appeared in {backup_dir} during the download; not overwritten") from None
        except OSError as exc:
            raise EnvironmentProblem(f"cannot write {filename} into {backup_dir}: {exc.strerror or exc}",
                                     hint="check free space and permissions of the backup folder") from None
        finally:
            if not published:
                remove_quietly(partial)
                for path in written_sides:
                    remove_quietly(path)
        return final

    def _get_small(self, filename: str, what: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            with self._errors(f"reading {filename} from {self.describe()}", passthrough=(ClientError,)):
                return self.client.get_object(Bucket=self.config.bucket, Key=self.key(filename))["Body"].read()
        except ClientError as exc:
            if _error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                raise CheckFailed(f"{filename} is not in {self.describe()}: without {what} the backup is "
                                  "incomplete there", hint="see `migtool backups list --remote`") from None
            raise _client_error(exc, f"reading {filename} from {self.describe()}") from None

    # ------------------------------------------------------------------ errors

    def _errors(self, what: str, passthrough: tuple[type[BaseException], ...] = ()):
        return _S3Errors(what, passthrough)


class _S3Errors:
    """Turn boto's many exceptions into one EnvironmentProblem (exit 3) that says what failed."""

    def __init__(self, what: str, passthrough: tuple[type[BaseException], ...]):
        self.what = what
        self.passthrough = passthrough

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None or isinstance(exc, (MigtoolError, *self.passthrough)) or not isinstance(exc, Exception):
            return False
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        if isinstance(exc, NoCredentialsError):
            raise EnvironmentProblem(f"{self.what}: no AWS credentials found",
                                     hint="export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE") from None
        if isinstance(exc, ClientError):
            raise _client_error(exc, self.what) from None
        if isinstance(exc, S3UploadFailedError):
            # s3transfer wraps the service's answer in text: "An error occurred (NoSuchBucket) when ..."
            m = re.search(r"An error occurred \((\w+)\)", str(exc))
            hint = _HINTS.get(m.group(1)) if m else None
            raise EnvironmentProblem(f"{self.what} failed: {_last_clause(str(exc))}",
                                     hint=hint or "check the S3 endpoint and network, then run the command again") \
                from None
        if isinstance(exc, BotoCoreError):
            raise EnvironmentProblem(f"{self.what} failed: {exc}",
                                     hint="check the S3 endpoint and network, then run the command again") from None
        return False


def _error_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


_HINTS = {
    "NoSuchBucket": "create the bucket or fix s3.bucket in migtool.yaml",
    "AccessDenied": "the AWS identity lacks permission (s3:PutObject/GetObject/ListBucket)",
    "InvalidAccessKeyId": "check the AWS credentials in the environment",
    "SignatureDoesNotMatch": "check the AWS credentials in the environment",
}


def _last_clause(text: str) -> str:
    """'Failed to upload /x to b/k: An error occurred (NoSuchBucket) ...' -> 'An error occurred ...'"""
    return text.split(": ", 1)[1] if text.startswith("Failed to ") and ": " in text else text


def _client_error(exc: Any, what: str) -> EnvironmentProblem:
    code = _error_code(exc)
    message = exc.response.get("Error", {}).get("Message", "") or str(exc)
    return EnvironmentProblem(f"{what} failed: {code}: {message}",
                              hint=_HINTS.get(code, "check the S3 configuration and credentials"))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()
