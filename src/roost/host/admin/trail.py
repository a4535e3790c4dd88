"""Reading the audit trail: per app (newest first) or per record. The only module of the admin
app that touches the audit table."""

from __future__ import annotations

from roost.cloud.audit import AUDIT
from roost.cloud.errors import Invalid
from roost.cloud.table import Item, Tables

from .models import AuditEntry, AuditPage


def _entry(item: Item) -> AuditEntry:
    return AuditEntry(id=item["sk"], app=item["pk"], table=item["table"], record=item["record"],
                      key=item["key"], op=item["op"], actor=item["actor"], at=item["at"],
                      before=item.get("before"), after=item.get("after"))


def app_of_record(record: str) -> str:
    """The app owning a record id "<table>#<key>" (a table's app is its name's first part)."""
    table, sep, _ = record.partition("#")
    if not sep or not table:
        raise Invalid("a record reads '<table>#<key>', as the audit trail lists it",
                      code="invalid_record")
    return table.split("_", 1)[0]


def entries_for_app(tables: Tables, app: str, *, limit: int, cursor: str | None) -> AuditPage:
    page = tables.table(AUDIT.name).query(app, forward=False, limit=limit, cursor=cursor)
    return AuditPage(entries=[_entry(i) for i in page.items], cursor=page.cursor)


def entries_for_record(tables: Tables, record: str, *, limit: int,
                       cursor: str | None) -> AuditPage:
    page = tables.table(AUDIT.name).query(record, index="by_record", forward=False,
                                          limit=limit, cursor=cursor)
    return AuditPage(entries=[_entry(i) for i in page.items], cursor=page.cursor)
