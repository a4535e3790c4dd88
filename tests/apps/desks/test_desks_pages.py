"""The pages through the real host: book (today asks first), the pass with its QR code, the
verify page, the admin dashboard, CSV export and the offices page."""

from __future__ import annotations

import csv
import io
import re

from desks_helpers import ADMIN

from roost.cloud.identity import Grant

ANA = "ana@example.com"
TUESDAY = "2026-01-06"


def form(desks, who: str, path: str, data: dict, **kw):
    return desks.client.post(path, headers=desks.auth(who), data=data, follow_redirects=False,
                             **kw)


def test_book_from_the_page_and_see_the_pass(desks):
    home = desks.client.get("/desks", headers=desks.auth(ANA))
    assert home.status_code == 200 and "Book a desk" in home.text
    assert 'max="2026-01-18"' in home.text  # the window's last day
    r = form(desks, ANA, "/desks/book", {"office_id": "hq", "day": TUESDAY, "parking": "yes"})
    assert r.status_code == 303
    pass_url = r.headers["location"]
    assert pass_url.startswith("/desks/pass/")
    page = desks.client.get(pass_url, headers=desks.auth(ANA))
    assert page.status_code == 200
    assert "<svg" in page.text and ANA in page.text and TUESDAY in page.text
    token = re.search(r'data-testid="pass-token"[^>]*>([^<]+)<', page.text).group(1)
    printable = desks.client.get(pass_url + "/print", headers=desks.auth(ANA))
    assert printable.status_code == 200 and "<svg" in printable.text
    verify = desks.client.get("/desks/passes/verify", params={"token": token},
                              headers=desks.auth(ADMIN))
    assert 'data-status="not_today"' in verify.text
    home = desks.client.get("/desks", headers=desks.auth(ANA))
    assert "Hq · 2026-01-06" in home.text


def test_booking_for_today_asks_first(desks):
    r = form(desks, ANA, "/desks/book", {"office_id": "hq", "day": "2026-01-05"})
    assert r.status_code == 200 and 'data-testid="confirm-today"' in r.text
    assert desks.runtime.tables.table("desks_bookings").scan().items == []
    r = form(desks, ANA, "/desks/book", {"office_id": "hq", "day": "2026-01-05",
                                         "confirm_today": "yes"})
    assert r.status_code == 303
    page = desks.client.get(r.headers["location"], headers=desks.auth(ANA))
    assert "(today)" in page.text
    token = re.search(r'data-testid="pass-token"[^>]*>([^<]+)<', page.text).group(1)
    verify = desks.client.get("/desks/passes/verify", params={"token": token},
                              headers=desks.auth(ADMIN))
    assert 'data-status="valid"' in verify.text


def test_a_refused_booking_says_why_and_offers_the_waitlist(make_desks):
    desks = make_desks()
    desks.office("hq", desks=1)
    assert desks.book("ben@example.com", TUESDAY).status_code == 201
    r = form(desks, ANA, "/desks/book", {"office_id": "hq", "day": TUESDAY})
    assert r.status_code == 409 and "no desk is free" in r.text
    assert 'data-testid="waitlist-offer"' in r.text
    r = form(desks, ANA, "/desks/queue", {"office_id": "hq", "day": TUESDAY})
    assert r.status_code == 200 and "on the waitlist" in r.text
    bad = form(desks, ANA, "/desks/book", {"office_id": "hq", "day": "soon"})
    assert bad.status_code == 422 and 'data-testid="error"' in bad.text


def test_forms_from_another_site_are_refused(desks):
    # a browser signed in by cookie, tricked into posting from another site
    token = desks.auth(ANA)["Authorization"].removeprefix("Bearer ")
    desks.client.cookies.set("roost_access", token)
    r = desks.client.post(
        "/desks/book", headers={"Origin": "https://evil.example"},
        data={"office_id": "hq", "day": TUESDAY}, follow_redirects=False)
    assert r.status_code == 403
    assert desks.runtime.tables.table("desks_bookings").scan().items == []


def test_cancel_from_the_pass_page(desks):
    b = desks.book(ANA, TUESDAY).json()
    r = form(desks, ANA, f"/desks/cancel/{b['id']}", {})
    assert r.status_code == 303 and r.headers["location"] == "/desks"
    assert desks.client.get(f"/desks/pass/{b['id']}", headers=desks.auth(ANA)).status_code \
        == 404


def test_the_dashboard_for_office_admins(desks):
    desks.office("paris")
    desks.grant("olga@example.com", Grant("desks", "office_admin", "hq"))
    desks.book(ANA, TUESDAY, parking=True)
    olga = desks.auth("olga@example.com")
    page = desks.client.get("/desks/admin", params={"office": "hq", "day": TUESDAY},
                            headers=olga)
    assert page.status_code == 200
    assert ANA in page.text and 'data-testid="occupancy"' in page.text
    assert ">Paris<" not in page.text  # only her offices
    assert desks.client.get("/desks/admin", headers=desks.auth(ANA)).status_code == 403
    ranged = desks.client.get("/desks/admin", headers=olga, params={
        "office": "hq", "start": "2026-01-06", "end": "2026-01-07"})
    assert ranged.text.count("<td><a href=\"/desks/admin?office=hq&day=") == 2
    bad = desks.client.get("/desks/admin", headers=olga, params={
        "office": "hq", "start": "2026-01-09", "end": "2026-01-07"})
    assert bad.status_code == 422 and "range" in bad.text
    assert desks.client.get("/desks/admin/offices", headers=olga).status_code == 403
    # She books for someone from the dashboard.
    r = form(desks, "olga@example.com", "/desks/book", {
        "office_id": "hq", "day": TUESDAY, "email": "cy@example.com", "confirm_today": "yes",
        "back": f"/desks/admin?office=hq&day={TUESDAY}"})
    assert r.status_code == 303 and r.headers["location"].startswith("/desks/admin")
    export = desks.client.get("/desks/admin/export.csv", headers=olga, params={
        "office": "hq", "start": "2026-01-05", "end": "2026-01-18"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert sorted(r["email"] for r in rows) == [ANA, "cy@example.com"]
    assert desks.client.get("/desks/admin/export.csv", headers=olga, params={
        "office": "paris", "start": "2026-01-05", "end": "2026-01-06"}).status_code == 403


def test_csv_cells_cannot_run_formulas(desks):
    desks.book(ADMIN, TUESDAY, email="=cmd@example.com")
    export = desks.client.get("/desks/admin/export.csv", headers=desks.auth(ADMIN), params={
        "office": "hq", "start": TUESDAY, "end": TUESDAY})
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert rows[0]["email"] == "'=cmd@example.com"


def test_system_admins_change_quotas_and_offices_from_pages(desks):
    desks.book(ANA, TUESDAY)
    r = form(desks, ADMIN, "/desks/admin/person", {"email": ANA, "weekly_quota": "3",
                                                   "auto_approved": "yes"})
    assert r.status_code == 303
    me = desks.client.get("/desks/me", headers=desks.auth(ANA)).json()
    assert (me["weekly_quota"], me["auto_approved"]) == (3, True)
    r = form(desks, ADMIN, "/desks/admin/offices", {"new": "yes", "id": "oslo", "name": "Oslo",
                                                    "tz": "Europe/Oslo", "desk_quota": "4",
                                                    "parking_quota": "1", "floors": "A, B"})
    assert r.status_code == 200 and "Saved oslo" in r.text
    r = form(desks, ADMIN, "/desks/admin/offices", {"id": "hq", "name": "HQ", "tz": "UTC",
                                                    "desk_quota": "0", "parking_quota": "0"})
    assert r.status_code == 200 and 'data-testid="over-quota"' in r.text
    r = form(desks, ADMIN, "/desks/admin/overrides", {
        "office_id": "oslo", "start": "2026-01-07", "end": "2026-01-09", "desk_quota": "1",
        "parking_quota": "0", "note": "works"})
    assert r.status_code == 200 and "2026-01-07 to 2026-01-09" in r.text
    bad = form(desks, ADMIN, "/desks/admin/offices", {"new": "yes", "id": "x", "name": "X",
                                                      "tz": "Nowhere/Land"})
    assert bad.status_code == 422 and "not a time zone" in bad.text


def test_import_offices_from_the_page(desks):
    toml = '[[office]]\nid = "oslo"\nname = "Oslo"\ntz = "Europe/Oslo"\ndesk_quota = 4\n'
    r = form(desks, ADMIN, "/desks/admin/offices/import", {"toml": toml})
    assert r.status_code == 200 and "1 created, 0 changed" in r.text
    bad = form(desks, ADMIN, "/desks/admin/offices/import", {"toml": "[[office]]\nid = 3"})
    assert bad.status_code == 422 and 'data-testid="error"' in bad.text
