"""A small app for the Lambda tests: a route that writes and publishes, a public read, and an
event handler that mails (declared like any app under roost.apps)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from roost.cloud.errors import NotFound
from roost.cloud.events import Event
from roost.cloud.functions import App, Cookie, Ctx, Reply, Uses
from roost.cloud.mail import Message
from roost.cloud.table import Put, TableSpec, attr

NOTES = TableSpec("notes_items", sk=None)
app = App("notes", "Notes", tables=[NOTES])


class NewNote(BaseModel):
    text: str = Field(min_length=1, max_length=200)
    notify: str = "team@example.com"


class Note(BaseModel):
    id: str
    text: str
    by: str


class Filter(BaseModel):
    shout: bool = False


@app.route("POST", "/notes", roles=["user"], status=201,
           uses=Uses(writes=[NOTES], publishes=["notes.created"]))
def create_note(ctx: Ctx, body: NewNote) -> Note:
    """Write a note; its readers are mailed by `mail_readers`."""
    note = Note(id=ctx.new_id(), text=body.text, by=ctx.user.user_id)
    ctx.tables.transact([
        Put(NOTES.name, {"pk": note.id, **note.model_dump()}, condition=attr("pk").not_exists()),
        ctx.publish("notes.created", {"id": note.id, "to": body.notify}),
    ])
    return note


@app.route("GET", "/notes/{note_id}", roles=["public"], uses=Uses(reads=[NOTES]))
def read_note(ctx: Ctx, query: Filter, *, note_id: str) -> Note:
    item = ctx.tables.table(NOTES.name).get({"pk": note_id})
    if item is None:
        raise NotFound(f"there is no note {note_id}", code="note_not_found")
    note = Note(id=item["id"], text=item["text"], by=item["by"])
    return note.model_copy(update={"text": note.text.upper()}) if query.shout else note


@app.route("DELETE", "/notes/{note_id}", roles=["notes:editor"], uses=Uses(writes=[NOTES]))
def delete_note(ctx: Ctx, *, note_id: str) -> None:
    ctx.tables.table(NOTES.name).delete({"pk": note_id})


@app.route("PUT", "/notes/{note_id}/file", roles=["public"], max_body=16,
           uses=Uses(blobs=["notes/"]))
def attach(ctx: Ctx, body: bytes, *, note_id: str) -> Reply:
    """A raw upload, stored as a blob; answers with a cookie."""
    info = ctx.blobs.put(f"notes/{note_id}", body, content_type="text/plain")
    return Reply(body={"size": info.size, "etag": info.etag}, status=201,
                 headers={"location": f"/notes/{note_id}/file"},
                 cookies=[Cookie("last_note", note_id, max_age=60)])


@app.handler("notes.created", uses=Uses(reads=[NOTES], mail=True))
def mail_readers(ctx: Ctx, event: Event) -> None:
    item = ctx.tables.table(NOTES.name).get({"pk": event.data["id"]})
    if item is None:
        raise NotFound(f"note {event.data['id']} is gone")
    ctx.mail.send(Message(to=(event.data["to"],), subject="A new note", text=item["text"],
                          idempotency_key=f"{event.id}:mail_readers"))


@app.schedule("digest", "0 7 * * mon", uses=Uses(writes=[NOTES]))
def weekly_digest(ctx: Ctx, event: Event) -> None:
    """Count the notes every Monday (the count is itself a note, so a test can see it ran)."""
    count = len(ctx.tables.table(NOTES.name).scan().items)
    ctx.tables.table(NOTES.name).put({"pk": f"digest-{event.id}", "id": event.id,
                                      "text": f"{count} notes", "by": "scheduler"})
