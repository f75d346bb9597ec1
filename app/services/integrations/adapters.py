"""One small adapter per provider API: what a sync reads and writes, in the
provider's own format. Each row it creates names its connection (Lead.connection)
and the provider's id of the row (Lead.external_id)."""
from __future__ import annotations

from urllib.parse import quote

import requests
from peewee import fn

from app.db import database
from app.models import Connection, Direction, Lead, LeadSource, User
from app.models.restrictions import Restriction
from app.services.integrations import catalogue
from app.services.integrations.connections import (
    ADAPTERS,
    GrantLost,
    _needs_reconnect,
    _require_live,
    api_session,
    call,
)
from app.services.platform import audit
from app.services.platform.errors import ServiceError

PAGE_SIZE = 100
PERSON_FIELDS = "names,emailAddresses,phoneNumbers,organizations"


def _first(person: dict, field: str, key: str) -> str:
    values = person.get(field) or []
    return (values[0].get(key) or "") if values else ""


# --- Google Contacts (People API) ----------------------------------------------------

def sync_google_contacts(connection: Connection, api, progress) -> None:
    i = catalogue.integration(connection.integration)
    if connection.direction in (Direction.INTO_CRM.value, Direction.TWO_WAY.value):
        _pull_contacts(connection, api, i.api_base, progress)
    if connection.direction in (Direction.OUT_OF_CRM.value, Direction.TWO_WAY.value):
        _push_contacts(connection, api, i.api_base)


def _pull_contacts(connection: Connection, api, base: str, progress) -> None:
    """Mirror the provider's contacts: new ones added, changed ones updated, ones
    deleted there deleted here (only rows this connection brought in)."""
    seen, page_token = set(), None
    while True:
        params = {"personFields": PERSON_FIELDS, "pageSize": PAGE_SIZE}
        if page_token:
            params["pageToken"] = page_token
        page = call(api, "GET", f"{base}/v1/people/me/connections", params=params)
        people = page.get("connections", [])
        if page_token is None:
            progress.total(int(page.get("totalPeople") or len(people)))
        with database.atomic():
            for person in people:
                seen.add(_upsert_contact(connection, person))
        progress.advance(len(people))
        page_token = page.get("nextPageToken")
        if not page_token:
            break
    Lead.delete().where(Lead.connection == connection.id, Lead.external_id.not_in(list(seen) or [""])).execute()


def _upsert_contact(connection: Connection, person: dict) -> str:
    external_id = person["resourceName"]
    fields = {"name": (_first(person, "names", "displayName") or _first(person, "emailAddresses", "value")
                       or "(no name)")[:200],
              "email": _first(person, "emailAddresses", "value")[:254],
              "phone": _first(person, "phoneNumbers", "value")[:40],
              "company": _first(person, "organizations", "name")[:200]}
    mine = (Lead.connection == connection.id) | (  # or one typed here and pushed there
        Lead.connection.is_null() & (Lead.owner == connection.user_id))
    if not Lead.update(**fields).where(mine, Lead.external_id == external_id).execute():
        Lead.create(owner=connection.user_id, connection=connection.id, external_id=external_id,
                    source=LeadSource.GOOGLE_CONTACTS.value, **fields)
    return external_id


def _push_contacts(connection: Connection, api, base: str) -> None:
    """Contacts typed into the CRM go to the provider once. They remain the person's
    own (a disconnect never deletes them); the provider's id, kept on the row, lets a
    pull recognise them instead of adding them twice."""
    typed_here = Lead.select().where(Lead.owner == connection.user_id, Lead.connection.is_null(),
                                     Lead.source == LeadSource.MANUAL.value, Lead.external_id == "",
                                     _not_about_a_restricted_person())
    for lead in typed_here:
        body = {"names": [{"givenName": lead.name}]}
        if lead.email:
            body["emailAddresses"] = [{"value": lead.email}]
        if lead.phone:
            body["phoneNumbers"] = [{"value": lead.phone}]
        if lead.company:
            body["organizations"] = [{"name": lead.company}]
        created = call(api, "POST", f"{base}/v1/people:createContact", json=body)
        Lead.update(external_id=created["resourceName"]).where(Lead.id == lead.id).execute()


def _not_about_a_restricted_person():
    """A lead whose address is a restricted person's (Art. 18) stays here, unused: it is
    not copied to the provider until the restriction is lifted. Its next sync pushes it."""
    restricted = User.select(User.email).where(User.id.in_(Restriction.restricted_people()))
    return fn.LOWER(Lead.email).not_in(restricted)


ADAPTERS["google_contacts"] = sync_google_contacts


# --- Google Sheets lead import -------------------------------------------------------

COLUMNS = {"name": "name", "full name": "name", "email": "email", "email address": "email", "phone": "phone",
           "phone number": "phone", "company": "company", "organisation": "company", "organization": "company"}


def import_sheet(connection: Connection, spreadsheet_id: str, cell_range: str) -> int:
    """Read the sheet once, add its rows as leads, keep nothing else of it: no copy,
    no id, no title, no file. Returns how many leads were added."""
    _require_live(connection)
    i = catalogue.integration(connection.integration)
    spreadsheet_id, cell_range = spreadsheet_id.strip(), (cell_range.strip() or "A1:Z1000")
    if not spreadsheet_id or "/" in spreadsheet_id:
        raise ServiceError("Give the spreadsheet's id: the long code between /d/ and /edit in its address.")
    path = f"/v4/spreadsheets/{quote(spreadsheet_id, safe='')}/values/{quote(cell_range, safe='')}"
    try:
        values = call(api_session(connection), "GET", i.api_base + path).get("values", [])
    except GrantLost as e:
        _needs_reconnect(connection, str(e))
        raise ServiceError("Google no longer accepts our access: connect again, then import.", 409) from e
    except requests.HTTPError as e:  # the sheet's id stays out of logs and messages: we keep nothing of it
        if e.response is not None and e.response.status_code in (400, 403, 404):
            raise ServiceError("Google found no such spreadsheet or range, or you have no access to it. Check the "
                               "id and the cells, and try again.") from None
        raise ServiceError("Google could not give the sheet just now. Nothing was imported: try again.") from None
    except requests.RequestException:
        raise ServiceError("Google did not answer in time. Nothing was imported: try again.") from None
    if not values:
        raise ServiceError("That range of the sheet is empty: nothing was imported.")
    header = [COLUMNS.get(cell.strip().lower()) for cell in values[0]]
    if "name" not in header and "email" not in header:
        raise ServiceError("The first row must name the columns, with at least “Name” or “Email”.")
    rows = []
    for cells in values[1:]:
        lead = {field: str(cell).strip()[:200] for field, cell in zip(header, cells) if field}
        if lead.get("name") or lead.get("email"):
            rows.append({"owner": connection.user_id, "connection": connection.id,
                         "source": LeadSource.GOOGLE_SHEETS.value, "name": lead.get("name") or lead["email"],
                         "email": lead.get("email", "")[:254], "phone": lead.get("phone", "")[:40],
                         "company": lead.get("company", "")})
    with database.atomic():
        for start in range(0, len(rows), 500):
            Lead.insert_many(rows[start:start + 500]).execute()
        audit.record(audit.Event("integration.sheet_imported", actor=connection.user, subject=connection.user,
                                 details={"integration": connection.integration, "leads": len(rows)}))
    return len(rows)
