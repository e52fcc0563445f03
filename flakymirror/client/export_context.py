"""What one export or rebase shares: connection settings, the images it opened, the requests
it made, and imgutil's save to every tag."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flakymirror.client.lifecycle_error import LifecycleError
from flakymirror.client.push import PushResult, push_image
from flakymirror.client.remote import RemoteImage, new_remote_image
from flakymirror.client.retry import RetryProfile
from flakymirror.client.transport import RequestRecord
from flakymirror.client.working_image import WorkingImage
from flakymirror.oci.digest import Digest

__all__ = ["ExportContext"]


@dataclass
class ExportContext:
    """Connection settings shared by every open and push of one export or rebase."""

    insecure: bool
    keychain: Any
    profile: str | RetryProfile
    sleep: Callable[[float], None] | None
    platform: str | None
    record: list[RequestRecord]
    jobs: int
    logger: logging.Logger | logging.LoggerAdapter
    opened: list[RemoteImage] = field(default_factory=list)

    def open(self, ref: str, *, fetch_config: bool = True) -> RemoteImage:
        """A fresh open of ``ref`` (imgutil ``remote.NewImage``), closed by :meth:`close`;
        ``fetch_config=False`` defers the config GET to its first use (``WithPreviousImage``)."""
        image = new_remote_image(
            ref,
            insecure=self.insecure,
            keychain=self.keychain,
            platform=self.platform,
            profile=self.profile,
            sleep=self.sleep,
            record=self.record,
            fetch_config=fetch_config,
        )
        self.opened.append(image)
        return image

    def close(self) -> None:
        """Close the connections of every image opened (their transports stay open for
        reading blobs until the save is done)."""
        for image in self.opened:
            if image.transport is not None:
                image.transport.close()
        self.opened.clear()

    def found(self, image: RemoteImage) -> bool:
        """imgutil ``Found()`` (a manifest HEAD), with its request recorded."""
        before = len(image.requests)
        ok = image.exists()
        self.record.extend(image.requests[before:])
        return ok

    def save(
        self, image: WorkingImage, name: str, additional: Sequence[str], code: int, action: str
    ) -> tuple[Digest, int, list[str], list[PushResult]]:
        """``saveImageAs``: push to every name; per-tag failures become imgutil's SaveError."""
        self.logger.info("Saving %s...", name)
        manifest, _config, blobs = image.build()
        pushes: list[PushResult] = []
        failures: list[tuple[str, BaseException]] = []
        names = [name, *additional]
        for n in names:
            try:
                pushes.append(
                    push_image(
                        n,
                        manifest,
                        image.media_type,
                        blobs,
                        insecure=self.insecure,
                        keychain=self.keychain,
                        profile=self.profile,
                        sleep=self.sleep,
                        jobs=self.jobs,
                        record=self.record,
                        logger=self.logger,  # type: ignore[arg-type]
                    )
                )
            except Exception as err:  # noqa: BLE001 - every tag is attempted, like imgutil
                failures.append((n, err))
        digest = Digest.of(manifest)
        self.logger.info("*** Images (%s):", digest)
        failed = dict(failures)
        tags = []
        for n in names:
            if n in failed:
                self.logger.info("      %s - %s", n, failed[n])
            else:
                self.logger.info("      %s", n)
                tags.append(n)
        if failures:
            text = ",".join(f"[{n}: {e}]" for n, e in failures)
            err = LifecycleError.fail(
                action, f"failed to write image to the following tags: {text}", code
            )
            err.__cause__ = failures[0][1]
            raise err
        return digest, len(manifest), tags, pushes
