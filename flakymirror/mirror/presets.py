"""Fault actions taken from real incidents (the anchors in mirror-failures A.1 and elsewhere),
as ready-made :class:`~flakymirror.mirror.actions.Status` values."""

from __future__ import annotations

from flakymirror.mirror.actions import Status

__all__ = ["hap429", "html_403", "pull_rate_limit"]


def hap429(retry_after: float = 60) -> Status:
    """Docker Hub's anti-abuse answer: ``429``, ``text/plain``, ``Too Many Requests (HAP429).``
    with an LF ending and ``Retry-After`` (mirror-failures A.1 #16)."""
    return Status(429, body="text", text="Too Many Requests (HAP429).\n", retry_after=retry_after)


def pull_rate_limit(limit: int = 100, window: int = 21600, source: str = "127.0.0.1") -> Status:
    """Docker Hub's pull rate limit: ``429 TOOMANYREQUESTS`` with the ratelimit headers (#15)."""
    return Status(
        429,
        code="TOOMANYREQUESTS",
        message=(
            "You have reached your pull rate limit. You may increase the limit by "
            "authenticating and upgrading: https://www.docker.com/increase-rate-limit"
        ),
        headers={
            "ratelimit-limit": f"{limit};w={window}",
            "ratelimit-remaining": f"0;w={window}",
            "docker-ratelimit-source": source,
        },
    )


def html_403() -> Status:
    """A front end's HTML 403 page (registry.k8s.io #277)."""
    return Status(403, body="html")
