"""Guards: the adapters as one function declared them.

Each call's `Ctx` wraps the real Tables, Blobs and Mailer in these. Every touch is checked against
the function's `Uses` before it reaches the adapter, and anything undeclared raises `Undeclared`
— the same declaration the AWS template turns into the function's IAM policy, so a function that
passes locally has exactly the permissions it needs there. Nothing reaches the adapter once a
check fails: a refused transaction writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from roost.cloud.blobs import BlobInfo, Blobs, Body
from roost.cloud.errors import Undeclared
from roost.cloud.events import OUTBOX, Event
from roost.cloud.mail import Mailer, Message
from roost.cloud.table import (
    Check,
    Cond,
    Item,
    Key,
    Op,
    Page,
    Put,
    SortKey,
    Table,
    Tables,
    TableSpec,
    Value,
)

if TYPE_CHECKING:
    from roost.cloud.functions import Function


def _undeclared(fn: Function, what: str, resource: str, fix: str) -> Undeclared:
    return Undeclared(f"{fn.name} {what}, which it does not declare; {fix}",
                      function=fn.name, resource=resource)


class GuardedTables:
    """`Tables` limited to the declared reads, writes and published event types."""

    def __init__(self, inner: Tables, fn: Function,
                 on_publish: Callable[[Event], None] | None = None) -> None:
        self._inner = inner
        self._fn = fn
        self._on_publish = on_publish

    def check_read(self, table: str) -> None:
        if table not in self._fn.uses.readable:
            raise _undeclared(self._fn, f"reads table {table!r}", f"table:{table}:read",
                              "add it to Uses(reads=...)")

    def check_write(self, table: str) -> None:
        if table not in self._fn.uses.writes:
            raise _undeclared(self._fn, f"writes table {table!r}", f"table:{table}:write",
                              "add it to Uses(writes=...)")

    def check_publish(self, item: Mapping[str, Any]) -> Event:
        event_type = item.get("type") if isinstance(item, Mapping) else None
        if event_type not in self._fn.uses.publishes:
            raise _undeclared(self._fn, f"publishes event {event_type!r}",
                              f"event:{event_type}", "add it to Uses(publishes=...)")
        return Event.from_item(item)

    def check_op(self, op: Op) -> Event | None:
        """Check one operation; the event it publishes, if it is an outbox put."""
        if op.table == OUTBOX.name:
            if not isinstance(op, Put):
                raise _undeclared(self._fn, f"{type(op).__name__.lower()}s an outbox item",
                                  f"table:{OUTBOX.name}",
                                  "only the dispatcher changes the outbox; publish with "
                                  "ctx.publish(...)")
            return self.check_publish(op.item)
        if isinstance(op, Check):
            self.check_read(op.table)
        else:
            self.check_write(op.table)
        return None

    def table(self, name: str) -> Table:
        if name == OUTBOX.name:
            if not self._fn.uses.publishes:
                raise _undeclared(self._fn, "opens the outbox", f"table:{name}",
                                  "declare the events it publishes, Uses(publishes=...)")
            return OutboxTable(self._inner.table(name), self)  # type: ignore[return-value]
        self.check_read(name)
        return GuardedTable(self._inner.table(name), self)  # type: ignore[return-value]

    def transact(self, ops: Sequence[Op]) -> None:
        events = [e for e in (self.check_op(op) for op in ops) if e is not None]
        self._inner.transact(ops)
        for e in events:
            self._published(e)

    def purge_expired(self) -> int:
        raise _undeclared(self._fn, "purges every table", "tables:purge",
                          "purging is the host's background job, not a function's")

    def _published(self, event: Event) -> None:
        if self._on_publish is not None:
            self._on_publish(event)


class GuardedTable:
    """One table, read-checked on every read and write-checked on every write."""

    def __init__(self, inner: Table, guard: GuardedTables) -> None:
        self._inner = inner
        self._guard = guard
        self.spec: TableSpec = inner.spec

    @property
    def _name(self) -> str:
        return self.spec.name

    def get(self, key: Key) -> Item | None:
        self._guard.check_read(self._name)
        return self._inner.get(key)

    def query(
        self,
        partition: Value,
        *,
        sort: SortKey | None = None,
        index: str | None = None,
        forward: bool = True,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page:
        self._guard.check_read(self._name)
        return self._inner.query(partition, sort=sort, index=index, forward=forward,
                                 limit=limit, cursor=cursor)

    def scan(self, *, limit: int | None = None, cursor: str | None = None) -> Page:
        self._guard.check_read(self._name)
        return self._inner.scan(limit=limit, cursor=cursor)

    def put(self, item: Item, *, condition: Cond | None = None) -> None:
        self._guard.check_write(self._name)
        self._inner.put(item, condition=condition)

    def update(
        self,
        key: Key,
        *,
        set: Mapping[str, Value] | None = None,
        add: Mapping[str, Value] | None = None,
        remove: Sequence[str] = (),
        condition: Cond | None = None,
    ) -> Item:
        self._guard.check_write(self._name)
        return self._inner.update(key, set=set, add=add, remove=remove, condition=condition)

    def delete(self, key: Key, *, condition: Cond | None = None) -> Item | None:
        self._guard.check_write(self._name)
        return self._inner.delete(key, condition=condition)


class OutboxTable(GuardedTable):
    """The outbox as a function sees it: it may put events of its declared types, nothing else
    (reading or changing pending events is the dispatcher's business)."""

    def _refuse(self, what: str) -> Undeclared:
        return _undeclared(self._guard._fn, f"{what} the outbox", f"table:{OUTBOX.name}",
                           "only the dispatcher reads or changes the outbox")

    def get(self, key: Key) -> Item | None:
        raise self._refuse("reads")

    def query(self, partition: Value, **kwargs: Any) -> Page:  # type: ignore[override]
        raise self._refuse("reads")

    def scan(self, *, limit: int | None = None, cursor: str | None = None) -> Page:
        raise self._refuse("reads")

    def put(self, item: Item, *, condition: Cond | None = None) -> None:
        event = self._guard.check_publish(item)
        self._inner.put(item, condition=condition)
        self._guard._published(event)

    def update(self, key: Key, **kwargs: Any) -> Item:  # type: ignore[override]
        raise self._refuse("updates")

    def delete(self, key: Key, *, condition: Cond | None = None) -> Item | None:
        raise self._refuse("deletes from")


class GuardedBlobs:
    """`Blobs` limited to keys under the declared prefixes."""

    def __init__(self, inner: Blobs, fn: Function) -> None:
        self._inner = inner
        self._fn = fn

    def _check(self, key: str, what: str) -> None:
        if not any(key.startswith(p) for p in self._fn.uses.blobs):
            raise _undeclared(self._fn, f"{what} blob {key!r}", f"blob:{key}",
                              f"declare its prefix in Uses(blobs=...) (declared: "
                              f"{list(self._fn.uses.blobs)})")

    def put(
        self,
        key: str,
        body: Body,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> BlobInfo:
        self._check(key, "writes")
        return self._inner.put(key, body, content_type=content_type, metadata=metadata,
                               max_bytes=max_bytes)

    def get(self, key: str) -> tuple[BlobInfo, Iterator[bytes]]:
        self._check(key, "reads")
        return self._inner.get(key)

    def read(self, key: str) -> bytes:
        self._check(key, "reads")
        return self._inner.read(key)

    def head(self, key: str) -> BlobInfo:
        self._check(key, "reads")
        return self._inner.head(key)

    def delete(self, key: str) -> bool:
        self._check(key, "deletes")
        return self._inner.delete(key)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        self._check(prefix, "lists")
        return self._inner.list(prefix)

    def signed_url(self, key: str, *, expires_in: int = 900, method: str = "GET") -> str:
        self._check(key, "signs a URL for")
        return self._inner.signed_url(key, expires_in=expires_in, method=method)

    def expire_prefix(self, prefix: str, *, days: int) -> None:
        self._check(prefix, "sets a lifecycle on")
        self._inner.expire_prefix(prefix, days=days)

    def purge_expired(self) -> int:
        raise _undeclared(self._fn, "purges every blob", "blobs:purge",
                          "purging is the host's background job, not a function's")


class GuardedMailer:
    """The Mailer, for functions that declare `Uses(mail=True)` (event handlers only)."""

    def __init__(self, inner: Mailer, fn: Function) -> None:
        self._inner = inner
        self._fn = fn

    def send(self, message: Message) -> str:
        if not self._fn.uses.mail:
            raise _undeclared(self._fn, "sends mail", "mail", "declare Uses(mail=True) on "
                              "an event handler")
        return self._inner.send(message)
