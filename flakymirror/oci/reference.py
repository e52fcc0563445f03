"""Image references ``host[:port]/repo[:tag][@digest]``: parse, validate, print.

The grammar follows the OCI distribution spec (repository and tag regexes) and the Docker
convention for telling a registry host from the first path component: the first component is a
registry when it contains a ``.`` or a ``:`` or is ``localhost`` (so ``Foo/bar`` is an invalid
repository, not a host ``Foo``).
No default registry is filled in: ``Reference.parse("foo/bar").registry`` is ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._deprecated import aliases
from .digest import Digest, DigestError

__all__ = [
    "REPOSITORY_PATTERN",
    "REPOSITORY_RE",
    "TAG_PATTERN",
    "TAG_RE",
    "HOST_RE",
    "MAX_NAME_LENGTH",
    "Reference",
    "InvalidReferenceError",
    "validate_repository",
    "validate_tag",
    "validate_host",
]

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
#: Repository name grammar of the distribution spec, unanchored (to embed in a route).
REPOSITORY_PATTERN = rf"{_COMPONENT}(?:/{_COMPONENT})*"
#: Tag grammar of the distribution spec, unanchored: at most 128 characters.
TAG_PATTERN = r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}"
# \A...\Z, not ^...$: "$" also matches before a trailing newline.
#: Anchored repository regex: ``REPOSITORY_RE.match(name)`` validates the whole name.
REPOSITORY_RE = re.compile(rf"\A{REPOSITORY_PATTERN}\Z")
#: Anchored tag regex.
TAG_RE = re.compile(rf"\A{TAG_PATTERN}\Z")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
#: Registry host: DNS name or IPv4 address or bracketed IPv6 address, optional ``:port``.
HOST_RE = re.compile(
    rf"\A(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::([0-9]+))?\Z"
)
#: Many clients cap ``host[:port]/<name>`` at 255 characters.
MAX_NAME_LENGTH = 255


class InvalidReferenceError(ValueError):
    """A reference, repository name, tag or host that breaks the grammar.

    Was ``InvalidReferenceError`` (which shadowed the builtin); that name still works, with a
    :class:`DeprecationWarning`, for one release.
    """


def validate_repository(name: str) -> str:
    """Return ``name`` if it is a valid repository name, else raise :class:`InvalidReferenceError`."""
    if not isinstance(name, str):
        raise InvalidReferenceError(f"repository must be a string, got {type(name).__name__}")
    if not name:
        raise InvalidReferenceError("repository name is empty")
    if ".." in name:
        raise InvalidReferenceError(f"invalid repository name {name!r}: contains '..'")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidReferenceError(
            f"invalid repository name {name[:40]!r}...: {len(name)} characters, "
            f"more than {MAX_NAME_LENGTH}"
        )
    if not REPOSITORY_RE.match(name):
        for i, component in enumerate(name.split("/")):
            if not re.fullmatch(_COMPONENT, component):  # names the first bad component
                raise InvalidReferenceError(
                    f"invalid repository name {name!r}: component {i} {component!r} must be "
                    "lowercase letters and digits separated by '.', '_', '__' or '-'"
                )
        raise InvalidReferenceError(f"invalid repository name {name!r}")  # pragma: no cover
    return name


def validate_tag(tag: str) -> str:
    """Return ``tag`` if it is a valid tag, else raise :class:`InvalidReferenceError`."""
    if not isinstance(tag, str):
        raise InvalidReferenceError(f"tag must be a string, got {type(tag).__name__}")
    if not tag:
        raise InvalidReferenceError("tag is empty")
    if len(tag) > 128:
        raise InvalidReferenceError(f"invalid tag {tag[:40]!r}...: {len(tag)} characters, at most 128")
    if not TAG_RE.match(tag):
        raise InvalidReferenceError(
            f"invalid tag {tag!r}: must start with a letter, digit or '_' and contain only "
            "letters, digits, '_', '.' and '-'"
        )
    return tag


def validate_host(host: str) -> str:
    """Return ``host`` if it is a valid ``host[:port]``, else raise :class:`InvalidReferenceError`."""
    if not isinstance(host, str):
        raise InvalidReferenceError(f"registry host must be a string, got {type(host).__name__}")
    m = HOST_RE.match(host)
    if not m:
        raise InvalidReferenceError(f"invalid registry host {host!r}")
    port = m.group(1)
    if port is not None and not 0 < int(port) < 65536:
        raise InvalidReferenceError(f"invalid registry host {host!r}: port {port} is out of range")
    return host


def _looks_like_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed image reference. ``str(ref)`` prints it back in canonical form."""

    registry: str | None
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    def __post_init__(self) -> None:
        if self.registry is not None:
            validate_host(self.registry)
        validate_repository(self.repository)
        if self.tag is not None:
            validate_tag(self.tag)
        if isinstance(self.digest, str):
            try:
                object.__setattr__(self, "digest", Digest.parse(self.digest))
            except DigestError as e:
                raise InvalidReferenceError(str(e)) from None
        elif self.digest is not None and not isinstance(self.digest, Digest):
            raise InvalidReferenceError(f"digest must be a Digest, got {type(self.digest).__name__}")
        first, slash, _ = self.repository.partition("/")
        if self.registry is None and slash and _looks_like_host(first):
            # "example.com/foo" would print and parse back as registry "example.com"
            raise InvalidReferenceError(
                f"repository {self.repository!r} starts with what reads as a registry host "
                f"{first!r}: pass registry={first!r} or give a registry"
            )
        full = self.name
        if len(full) > MAX_NAME_LENGTH:
            raise InvalidReferenceError(
                f"invalid reference name {full[:40]!r}...: {len(full)} characters, "
                f"more than {MAX_NAME_LENGTH}"
            )

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Parse ``host[:port]/repo[:tag][@digest]``; raise :class:`InvalidReferenceError` quoting
        ``text`` and naming the bad part."""
        if not isinstance(text, str):
            raise InvalidReferenceError(f"reference must be a string, got {type(text).__name__}")
        if not text:
            raise InvalidReferenceError("reference is empty")
        if text != text.strip() or any(c.isspace() for c in text):
            raise InvalidReferenceError(f"invalid reference {text!r}: contains whitespace")
        rest, at, digest_text = text.partition("@")
        digest = None
        if at:
            try:
                digest = Digest.parse(digest_text)
            except DigestError as e:
                raise InvalidReferenceError(f"invalid reference {text!r}: bad digest part: {e}") from None
        tag = None
        slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > slash:
            rest, tag = rest[:colon], rest[colon + 1 :]
            try:
                validate_tag(tag)
            except InvalidReferenceError as e:
                raise InvalidReferenceError(f"invalid reference {text!r}: bad tag part: {e}") from None
        registry = None
        first, sep, remainder = rest.partition("/")
        if sep and _looks_like_host(first):
            registry, repository = first, remainder
            try:
                validate_host(registry)
            except InvalidReferenceError as e:
                raise InvalidReferenceError(
                    f"invalid reference {text!r}: bad registry part: {e}"
                ) from None
        else:
            repository = rest
        try:
            validate_repository(repository)
        except InvalidReferenceError as e:
            raise InvalidReferenceError(f"invalid reference {text!r}: bad repository part: {e}") from None
        try:
            return cls(registry, repository, tag, digest)
        except InvalidReferenceError as e:
            raise InvalidReferenceError(f"invalid reference {text!r}: {e}") from None

    @property
    def name(self) -> str:
        """``registry/repository`` (or just the repository when there is no registry)."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    @property
    def identifier(self) -> str:
        """What to fetch under ``/manifests/``: the digest if any, else the tag, else
        ``"latest"`` (the default every Docker-compatible client applies)."""
        if self.digest is not None:
            return str(self.digest)
        return self.tag if self.tag is not None else "latest"

    def with_tag(self, tag: str | None) -> Reference:
        """This reference with another tag (digest kept)."""
        return Reference(self.registry, self.repository, tag, self.digest)

    def with_digest(self, digest: Digest | str | None) -> Reference:
        """This reference with another digest (tag kept)."""
        return Reference(self.registry, self.repository, self.tag, digest)  # type: ignore[arg-type]

    def __str__(self) -> str:
        out = self.name
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out


__getattr__ = aliases(__name__, {"ReferenceError": InvalidReferenceError})
