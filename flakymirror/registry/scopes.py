"""Access as data: scopes (``repository:foo:pull``), grant policies, and the identity a
request was authenticated as. The auth schemes in :mod:`flakymirror.registry.auth` use these."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from ..oci.reference import validate_repository

__all__ = ["ALL_ACTIONS", "ANONYMOUS", "Identity", "Policy", "Scope", "error_detail"]

ALL_ACTIONS = frozenset({"pull", "push", "delete", "*"})


@dataclass(frozen=True)
class Scope:
    """One resource scope: ``repository:foo/bar:pull,push`` or ``registry:catalog:*``."""

    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def repository(cls, name: str, *actions: str) -> Scope:
        """``repository:<name>:<actions>``."""
        return cls("repository", name, tuple(actions))

    @classmethod
    def parse(cls, text: str) -> Scope:
        """Split the type at the first ``:`` and the actions at the last (names may hold a port).

        A ``repository`` name must be one the API accepts (``InvalidReferenceError``, a
        ``ValueError``, names what breaks the grammar: ``public/../team-a/app`` does)."""
        rtype, sep1, rest = text.partition(":")
        name, sep2, actions = rest.rpartition(":")
        if not (sep1 and sep2 and rtype and name):
            raise ValueError(f"invalid scope {text!r}: expected '<type>:<name>:<actions>'")
        rtype = rtype.split("(", 1)[0]  # repository(plugin) == repository
        if rtype == "repository":  # the API's own grammar: no grant for a name it would refuse
            validate_repository(name)
        return cls(rtype, name, tuple(a for a in actions.split(",") if a))

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


class Policy:
    """Which actions a user gets on a resource (see the module docstring for ``grants``)."""

    def __init__(
        self, grants: Mapping[str, Mapping[str, str | Iterable[str]]] | None = None
    ) -> None:
        self.grants = (
            None
            if grants is None
            else {
                user: {pattern: _actions(acts) for pattern, acts in rules.items()}
                for user, rules in grants.items()
            }
        )

    def allowed(self, user: str | None, scope: Scope) -> frozenset[str]:
        """Actions of ``scope`` the policy grants ``user`` (None = anonymous)."""
        if self.grants is None:
            granted = ALL_ACTIONS if user is not None else frozenset()
        else:
            keys = [""] if user is None else ["*", user]
            granted = frozenset()
            target = scope.name if scope.type == "repository" else f"{scope.type}:{scope.name}"
            for key in keys:
                for pattern, acts in self.grants.get(key, {}).items():
                    if fnmatchcase(target, pattern) and (
                        scope.type == "repository" or ":" in pattern
                    ):
                        granted |= acts
        if "*" in granted:
            return frozenset(scope.actions)
        return frozenset(a for a in scope.actions if a in granted)


def _actions(value: str | Iterable[str]) -> frozenset[str]:
    items = value.split(",") if isinstance(value, str) else value
    return frozenset(a.strip() for a in items if a.strip())


@dataclass(frozen=True)
class Identity:
    """The caller of one request; :meth:`allows` answers for other scopes (e.g. a mount source)."""

    user: str | None
    check: Callable[[Scope], bool]

    def allows(self, scope: Scope) -> bool:
        """True when this caller may have ``scope``."""
        return self.check(scope)


ANONYMOUS = Identity(None, lambda scope: True)


def error_detail(needed: Iterable[Scope]) -> list[dict[str, str]]:
    """The ``detail`` of an UNAUTHORIZED/DENIED error: one entry per scope action, as
    distribution writes it (``Type``, ``Name``, ``Action``)."""
    return [{"Type": s.type, "Name": s.name, "Action": a} for s in needed for a in s.actions]
