"""Digests a client names in a path or a query: parsed, or answered with the OCI error a
registry gives for them."""

from __future__ import annotations

from ..oci.digest import DIGEST_GRAMMAR, SUPPORTED_ALGORITHMS, Digest, DigestError
from .errors import RegistryError

__all__ = ["digest_for_lookup", "digest_for_push"]

_GRAMMAR_BAD = "DIGEST_INVALID"


def digest_for_lookup(text: str, not_found: str) -> Digest:
    """Parse a digest in a GET/HEAD/DELETE path.

    Bad grammar → 400 ``DIGEST_INVALID``; a well-formed digest of an algorithm we do not
    store (e.g. ``blake3:…``) cannot name anything here → 404 ``not_found``.
    """
    try:
        return Digest.parse(text)
    except DigestError as exc:
        algorithm, sep, _ = text.partition(":")
        if sep and algorithm not in SUPPORTED_ALGORITHMS and DIGEST_GRAMMAR.fullmatch(text):
            raise RegistryError(not_found, f"unsupported digest algorithm in {text!r}") from None
        raise RegistryError(_GRAMMAR_BAD, str(exc), {"digest": text[:200]}) from None


def digest_for_push(text: str | None, what: str = "digest") -> Digest:
    """Parse a digest a client pushes with; anything unusable → 400 ``DIGEST_INVALID``."""
    if not text:
        raise RegistryError("DIGEST_INVALID", f"the {what} query parameter is required")
    try:
        return Digest.parse(text)
    except DigestError as exc:
        raise RegistryError("DIGEST_INVALID", str(exc), {"digest": text[:200]}) from None
