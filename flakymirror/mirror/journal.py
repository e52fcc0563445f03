"""The request journal: every request the mirror answered (or refused to), in arrival order,
including requests the server refused before they reached the mirror (kind ``"rejected"``).

Entries are opened when a request arrives and closed when its response has been sent (or the
connection dropped), so ``bytes_sent`` counts the body bytes that actually went out. Memory is
bounded: past ``maxlen`` entries the oldest go and ``dropped`` counts them; :meth:`Journal.totals`
keeps counting every request since the last ``clear()``.

Queries check their arguments: an unknown kind, a status that is not an integer or an unknown
criterion raises :class:`JournalQueryError` (a ``ValueError``) naming it, so a typo cannot
silently count nothing.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from flakymirror.mirror.forms import suggest
from flakymirror.mirror.match import KINDS

__all__ = ["ENTRY_KINDS", "Journal", "JournalEntry", "JournalQueryError"]

#: Every kind a journal entry can have: the mirror's endpoint kinds, and ``"rejected"`` for a
#: request the server refused before the mirror saw it.
ENTRY_KINDS = (*KINDS, "rejected")
#: The criteria :meth:`Journal.filter` takes.
CRITERIA = ("kind", "repo", "method", "status", "reference", "fault")


class JournalQueryError(ValueError):
    """A journal query with a bad argument; ``.field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


@dataclass
class JournalEntry:
    """One request/response. ``t`` is seconds after the mirror epoch on the mirror clock,
    ``clock_time`` that clock's epoch seconds, ``wall_time`` real epoch seconds. A request the
    server refused before the mirror (kind ``"rejected"``) has its status and ``reason``."""

    seq: int
    t: float
    clock_time: float
    wall_time: float
    method: str
    path: str
    kind: str
    repo: str | None = None
    reference: str | None = None
    query: str = ""
    ns: str | None = None
    status: int | None = None
    bytes_sent: int = 0
    faults: list[str] = field(default_factory=list)
    sync: str | None = None
    #: "ok" | "closed" (connection dropped by a fault) | "aborted" (the client left) |
    #: "error" | "rejected" (refused by the server before the mirror saw it) | "limit"
    #: (refused because one of the harness's own caps was reached, not for anything the
    #: client did) | "open"
    outcome: str = "open"
    done: bool = False
    #: Why the server refused a ``"rejected"`` request (None otherwise).
    reason: str | None = None
    #: The harness's cap that refused a ``"limit"`` request (``"tokens"``; None otherwise).
    limit: str | None = None
    #: A manifest answer with a body (GET or HEAD 200): the digest and media type of the
    #: document served (upstream's, a cut view, a rewritten index...). None otherwise.
    digest: str | None = None
    media_type: str | None = None
    #: What faults did to the body's bytes, one word per effect as it happened:
    #: ``"truncated"``, ``"corrupted"``, ``"garbage"`` (headers-only changes are not damage).
    damage: list[str] = field(default_factory=list)
    #: Where the first body byte lies in the resource: the start of a 206's ``Content-Range``.
    offset: int = 0

    @property
    def fault(self) -> str | None:
        """The faults applied, joined with ``,`` (None when none)."""
        return ",".join(self.faults) or None

    def to_dict(self) -> dict[str, Any]:
        """The entry as a dict, with ``fault`` joined."""
        d = asdict(self)
        d["fault"] = self.fault
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JournalEntry:
        """An entry from :meth:`to_dict` output (e.g. a saved journal export)."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names - {"fault"}
        if unknown:
            raise ValueError(f"{sorted(unknown)[0]}: unknown journal entry key")
        return cls(**{k: v for k, v in data.items() if k in names})

    def line(self) -> str:
        """One readable timeline line."""
        target = self.repo or ""
        if self.reference:
            sep = "@" if ":" in self.reference else ":"
            target = f"{target}{sep}{_short(self.reference)}"
        status = str(self.status) if self.status is not None else "---"
        if self.outcome == "closed":
            status += "!"
        extras = []
        if self.sync:
            extras.append(f"sync={self.sync}")
        if self.faults:
            extras.append(f"fault={self.fault}")
        if self.damage:
            extras.append(f"damage={','.join(self.damage)}")
        if self.reason:
            extras.append(f"rejected: {self.reason}")
        if self.limit:
            extras.append(f"harness limit: {self.limit}")
        if not self.done:
            extras.append("(in flight)")
        return (
            f"{self.t:9.3f}s  {self.method or '-':<6} {self.kind:<9} {target:<40} {status:>4} "
            f"{self.bytes_sent:>9}B  {' '.join(extras)}"
        ).rstrip()


def _short(reference: str) -> str:
    algorithm, sep, hexpart = reference.partition(":")
    return f"{algorithm}:{hexpart[:12]}" if sep and len(hexpart) > 12 else reference


#: Entries a journal keeps unless told otherwise.
DEFAULT_JOURNAL_SIZE = 10_000
#: The most a scenario file may ask for (``[mirror] journal_size``): about 1 GiB of entries.
MAX_JOURNAL_SIZE = 1_000_000


class Journal:
    """Bounded, thread-safe request log with queries."""

    def __init__(self, maxlen: int = DEFAULT_JOURNAL_SIZE) -> None:
        if maxlen < 1:
            raise ValueError(f"journal size must be >= 1, got {maxlen}")
        self.maxlen = maxlen
        self._lock = threading.Lock()
        self._entries: deque[JournalEntry] = deque(maxlen=maxlen)
        self._seq = 0
        self.dropped = 0
        self._totals: Counter[str] = Counter()

    def open(self, **fields: Any) -> JournalEntry:
        """Start an entry (the mirror calls this when a request arrives)."""
        with self._lock:
            self._seq += 1
            entry = JournalEntry(seq=self._seq, **fields)
            self._totals[f"{entry.method or '-'} {entry.kind}"] += 1
            if len(self._entries) == self.maxlen:
                self.dropped += 1
            self._entries.append(entry)
        return entry

    def close(self, entry: JournalEntry, outcome: str = "ok", *, amend: bool = False) -> None:
        """Finish an entry (idempotent; ``amend`` corrects the outcome of a finished one)."""
        with self._lock:
            if not entry.done or amend:
                entry.outcome = outcome
                entry.done = True

    def clear(self) -> None:
        """Drop every entry and restart the sequence numbers."""
        with self._lock:
            self._entries.clear()
            self._seq = 0
            self.dropped = 0
            self._totals.clear()

    def totals(self) -> Counter[str]:
        """Requests per ``"METHOD kind"`` (``"GET manifest"``, ``"HEAD blob"``, ``"- tls-probe"``
        for an entry without a method) for every entry opened since the last :meth:`clear`,
        evicted ones included: its values add up to ``len(journal) + journal.dropped``. A copy."""
        with self._lock:
            return Counter(self._totals)

    @property
    def entries(self) -> list[JournalEntry]:
        """A snapshot of the entries, oldest first."""
        with self._lock:
            return list(self._entries)

    def settled(self, since: int = 1, timeout: float = 2.0) -> list[JournalEntry]:
        """The entries from sequence number ``since`` on, once every one of them is closed
        (the server closes an entry a moment after the client has its response), waiting at
        most ``timeout`` real seconds; entries still open then are returned as they are."""
        deadline = time.monotonic() + timeout
        while True:
            entries = [e for e in self.entries if e.seq >= since]
            if all(e.done for e in entries) or time.monotonic() > deadline:
                return entries
            time.sleep(0.002)

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def filter(
        self,
        kind: str | None = None,
        repo: str | None = None,
        method: str | None = None,
        status: int | None = None,
        reference: str | None = None,
        fault: bool | None = None,
    ) -> list[JournalEntry]:
        """Entries matching every given criterion (``fault=True``: only faulted ones).

        ``kind`` must be one of :data:`ENTRY_KINDS` and ``status`` an integer; anything else
        raises :class:`JournalQueryError` (with a "did you mean" where one is close)."""
        _check(kind=kind, repo=repo, method=method, status=status, reference=reference, fault=fault)
        out = []
        for e in self.entries:
            if kind is not None and e.kind != kind:
                continue
            if repo is not None and e.repo != repo:
                continue
            if method is not None and e.method != method.upper():
                continue
            if status is not None and e.status != status:
                continue
            if reference is not None and e.reference != reference:
                continue
            if fault is not None and bool(e.faults) != fault:
                continue
            out.append(e)
        return out

    def _select(self, criteria: dict[str, Any]) -> list[JournalEntry]:
        unknown = sorted(set(criteria) - set(CRITERIA))
        if unknown:
            name = unknown[0]
            raise JournalQueryError(
                name,
                f"unknown journal filter{suggest(name, CRITERIA)} (known: {', '.join(CRITERIA)})",
            )
        return self.filter(**criteria)

    def count(self, **criteria: Any) -> int:
        """``len(filter(**criteria))``."""
        return len(self._select(criteria))

    def timeline(self, **criteria: Any) -> str:
        """A readable, one-line-per-request timeline."""
        entries = self._select(criteria)
        head = f"{'t':>10}  {'method':<6} {'kind':<9} {'target':<40} {'st':>4} {'bytes':>10}"
        lines = [head, *(e.line() for e in entries)]
        if self.dropped:
            lines.insert(1, f"({self.dropped} older entries dropped)")
        return "\n".join(lines)

    def to_list(self, **criteria: Any) -> list[dict[str, Any]]:
        """The entries as dicts."""
        entries = self._select(criteria)
        return [e.to_dict() for e in entries]

    def to_json(self, **criteria: Any) -> str:
        """``{"dropped": n, "entries": [...]}`` as JSON text."""
        return json.dumps({"dropped": self.dropped, "entries": self.to_list(**criteria)})


def _check(**criteria: Any) -> None:
    """Raise :class:`JournalQueryError` for a criterion that could never match as meant."""
    kind, status = criteria["kind"], criteria["status"]
    if kind is not None and kind not in ENTRY_KINDS:
        raise JournalQueryError(
            "kind",
            f"unknown journal entry kind {kind!r}{suggest(kind, ENTRY_KINDS)} "
            f"(known: {', '.join(ENTRY_KINDS)})",
        )
    if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
        hint = (
            f" (did you mean {int(status)}?)"
            if isinstance(status, str) and status.isdecimal()
            else ""
        )
        raise JournalQueryError("status", f"expected an integer status, got {status!r}{hint}")
    for name in ("repo", "method", "reference"):
        value = criteria[name]
        if value is not None and not isinstance(value, str):
            raise JournalQueryError(name, f"expected a string, got {value!r}")
    fault = criteria["fault"]
    if fault is not None and not isinstance(fault, bool):
        raise JournalQueryError("fault", f"expected true or false, got {fault!r}")
