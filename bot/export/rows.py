"""The export record of a tip, and the query that streams them from the database.

One record per submitted tip, built for a profile: a tuple of values in :data:`FIELDS` order
(:func:`iter_tip_values`, what the writers take) or a dict (:func:`iter_tip_rows`). The
public profile's redactions (:func:`redactions`) are applied here, and the columns they
remove are not even read from the database. Tips are read in keyset pages of ``batch`` by
id, each page in its own short transaction (on SQLite a transaction holds the write lock, so
a long export must not hold one), with the page's files, notes, duplicate links and verdicts
loaded in one query each: memory stays flat whatever the number of tips, and a page is
handed out only after its transaction has ended.

A hundred thousand tips make every per-value cost count, so timestamps, dates and times are
formatted by the database (:class:`_AsText`), rows are read with Core and built by position,
and the next page is read while this one is written.

Drafts are never exported. Withdrawn and purged tips are exported as what remains of them
(reference, status, times; their content was erased), so that a reference an investigator
has seen elsewhere is accounted for; ``--status`` leaves them out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncGenerator, Callable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    bindparam,
    func,
    select,
    type_coerce,
)
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from bot.export.filters import ExportFilters, Profile
from bot.gazetteer import Gazetteer, oblast_name
from bot.taxonomy import rome_statute_reference
from db.engine import SessionFactory, transaction
from db.models import (
    MEDIA_STORED,
    TIP_DRAFT,
    TIP_DUPLICATE,
    TIP_REJECTED,
    TIP_VERIFIED,
    CustodyEntry,
    Media,
    Reporter,
    Tip,
    TipLink,
    TipNote,
)

Record = dict[str, Any]
#: One tip's values in the order of its profile's :data:`FIELDS`.
Values = tuple[Any, ...]

# ------------------------------------------------------------------------------ the fields

INVESTIGATOR_FIELDS: tuple[str, ...] = (
    "id",
    "reference",
    "status",
    "submitted_at",
    "reviewed_at",
    "decided_by",
    "reject_reason",
    "duplicate_of",
    "duplicate_of_id",
    "category",
    "rome_statute",
    "perpetrator",
    "perpetrator_text",
    "description",
    "incident_date",
    "incident_date_precision",
    "incident_time",
    "place_text",
    "settlement",
    "settlement_id",
    "settlement_distance_km",
    "katottg",
    "hromada",
    "raion",
    "oblast",
    "oblast_name",
    "lat",
    "lon",
    "location_precision",
    "location_source",
    "contact_allowed",
    "language",
    "media_count",
    "media_not_stored",
    "media_sha256",
    "duplicate_links",
    "questions",
    "answers",
    "additions",
    "reporter",
    "purged_at",
)

PUBLIC_FIELDS: tuple[str, ...] = (
    "id",
    "status",
    "submitted_date",
    "reviewed_date",
    "reject_reason",
    "duplicate_of_id",
    "category",
    "rome_statute",
    "perpetrator",
    "incident_date",
    "incident_date_precision",
    "settlement",
    "settlement_id",
    "katottg",
    "hromada",
    "raion",
    "oblast",
    "oblast_name",
    "settlement_lat",
    "settlement_lon",
    "location_precision",
    "location_source",
    "media_count",
    "media_not_stored",
)

#: The columns of each profile, in order (CSV and XLSX header, JSON key order).
FIELDS: dict[Profile, tuple[str, ...]] = {
    Profile.INVESTIGATOR: INVESTIGATOR_FIELDS,
    Profile.PUBLIC: PUBLIC_FIELDS,
}

#: The fields whose value is a list (JSON arrays; joined with ``|`` in CSV and XLSX).
LIST_FIELDS: frozenset[str] = frozenset(
    {"media_sha256", "duplicate_links", "questions", "answers", "additions"}
)

#: The fields that place a tip on the map (GeoJSON geometry), per profile: (lat, lon).
POINT_FIELDS: dict[Profile, tuple[str, str]] = {
    Profile.INVESTIGATOR: ("lat", "lon"),
    Profile.PUBLIC: ("settlement_lat", "settlement_lon"),
}

#: Every field's type: string, integer, number, boolean, date (YYYY-MM-DD), time (HH:MM),
#: datetime (ISO 8601 UTC, ``Z``) or list (of strings).
FIELD_TYPES: dict[str, str] = {
    "id": "integer",
    "reference": "string",
    "status": "string",
    "submitted_at": "datetime",
    "submitted_date": "date",
    "reviewed_at": "datetime",
    "reviewed_date": "date",
    "decided_by": "string",
    "reject_reason": "string",
    "duplicate_of": "string",
    "duplicate_of_id": "integer",
    "category": "string",
    "rome_statute": "string",
    "perpetrator": "string",
    "perpetrator_text": "string",
    "description": "string",
    "incident_date": "date",
    "incident_date_precision": "string",
    "incident_time": "time",
    "place_text": "string",
    "settlement": "string",
    "settlement_id": "integer",
    "settlement_distance_km": "number",
    "katottg": "string",
    "hromada": "string",
    "raion": "string",
    "oblast": "string",
    "oblast_name": "string",
    "lat": "number",
    "lon": "number",
    "settlement_lat": "number",
    "settlement_lon": "number",
    "location_precision": "string",
    "location_source": "string",
    "contact_allowed": "boolean",
    "language": "string",
    "media_count": "integer",
    "media_not_stored": "integer",
    "media_sha256": "list",
    "duplicate_links": "list",
    "questions": "list",
    "answers": "list",
    "additions": "list",
    "reporter": "string",
    "purged_at": "datetime",
}

#: What every field means (docs/export.md, the bundle's schema.json).
FIELD_DOCS: dict[str, str] = {
    "id": "The tip's internal number: stable, and not known to the reporter.",
    "reference": "The reference code the reporter was given (e.g. K7QM-4XHD).",
    "status": "submitted, in_review, needs_info, verified, rejected, duplicate, "
    "quarantined (a banned reporter's tip) or withdrawn (by the reporter; content erased).",
    "submitted_at": "When the reporter submitted the tip (UTC).",
    "submitted_date": "The day the reporter submitted the tip (UTC).",
    "reviewed_at": "When a moderator gave the verdict (verified, rejected, duplicate), UTC.",
    "reviewed_date": "The day a moderator gave the verdict (UTC).",
    "decided_by": "The display name of the moderator who gave the verdict.",
    "reject_reason": "Why it was rejected: spam, not_relevant, not_enough_info or other.",
    "duplicate_of": "For a duplicate: the reference of the tip it duplicates.",
    "duplicate_of_id": "For a duplicate: the id of the tip it duplicates.",
    "category": "The incident category code the reporter chose (see the category table).",
    "rome_statute": "The Rome Statute articles associated with the category (empty if none).",
    "perpetrator": "Who the reporter says was responsible: unknown, a party code, or other.",
    "perpetrator_text": "The reporter's own words about the perpetrator (uniforms, markings).",
    "description": "What happened, in the reporter's words.",
    "incident_date": "The incident's date as the reporter gave it (the 1st for a month).",
    "incident_date_precision": "day, month or unknown.",
    "incident_time": "The incident's time of day as the reporter gave it (HH:MM), if any.",
    "place_text": "The place as the reporter typed it, or the label of a shared map point.",
    "settlement": "The settlement (Ukrainian name): the one the reporter picked, or the "
    "nearest to a shared point.",
    "settlement_id": "The settlement's id in tipbot's gazetteer (docs/gazetteer.md).",
    "katottg": "The settlement's code in Ukraine's codifier of administrative units "
    "(KATOTTG), from the gazetteer.",
    "hromada": "The settlement's hromada (territorial community), from the gazetteer.",
    "raion": "The settlement's raion (district), from the gazetteer.",
    "settlement_distance_km": "For a shared point: its distance to that settlement, km.",
    "oblast": "The oblast's GeoNames admin1 code (01-27).",
    "oblast_name": "The oblast's name in English.",
    "lat": "Latitude (WGS 84): the shared point, or the picked settlement's centre.",
    "lon": "Longitude (WGS 84): the shared point, or the picked settlement's centre.",
    "settlement_lat": "Latitude of the settlement's centre (from the gazetteer), never the "
    "reporter's point.",
    "settlement_lon": "Longitude of the settlement's centre (from the gazetteer), never the "
    "reporter's point.",
    "location_precision": "point (a shared map point), settlement, text (typed, not matched) "
    "or none.",
    "location_source": "shared_point, typed_place or none.",
    "contact_allowed": "Whether the reporter allowed follow-up questions.",
    "language": "The language the reporter used the bot in (uk, ru, en).",
    "media_count": "How many files of the tip are stored (originals, hashed on receipt).",
    "media_not_stored": "Files the reporter sent that could not be stored (too large, failed).",
    "media_sha256": "The SHA-256 of each stored original, in the order received.",
    "duplicate_links": "Possible duplicates found automatically, as kind:reference "
    "(same_file, similar_image, similar_context).",
    "questions": "Moderators' questions to the reporter, in order.",
    "answers": "The reporter's answers to those questions (texts; files are in media_sha256).",
    "additions": "Information the reporter added later (texts; files are in media_sha256).",
    "reporter": "The reporter's pseudonym (a keyed hash; never a Telegram id).",
    "purged_at": "When retention purged the tip's content and originals, if it did.",
}

_PUBLIC_REDACTIONS: tuple[str, ...] = (
    "tips: only verified tips unless statuses are given explicitly",
    "description: left out (free text)",
    "perpetrator_text: left out (free text)",
    "place_text: left out (free text)",
    "questions, answers, additions: left out (free text)",
    "reporter: left out (pseudonym)",
    "decided_by: left out (moderator names)",
    "reference, duplicate_of: left out (a reporter's confirmation must stay neutral); "
    "id and duplicate_of_id identify tips instead",
    "lat, lon, settlement_distance_km: left out (place no finer than the settlement); "
    "settlement_lat and settlement_lon give the settlement's centre",
    "submitted_at, reviewed_at: coarsened to the day (submitted_date, reviewed_date)",
    "incident_time: left out (dates no finer than the day)",
    "media_sha256: left out (a file's hash can tie a copy of it to the reporter)",
    "duplicate_links, contact_allowed, language, purged_at: left out",
)


def redactions(profile: Profile) -> list[str]:
    """Exactly what the profile removes or coarsens (recorded in the export's custody entry
    and in export.json). The investigator profile removes nothing; no profile ever exports
    a Telegram id, a chat id or a file's Telegram identifiers."""
    return list(_PUBLIC_REDACTIONS) if profile == Profile.PUBLIC else []


# ------------------------------------------------------------------------------ the query

_VERDICT_ACTIONS = ("verified", "rejected", "duplicate")
_VERDICT_STATUSES = frozenset({TIP_VERIFIED, TIP_REJECTED, TIP_DUPLICATE})
_NOTE_FIELDS = {"question": "questions", "answer": "answers", "addition": "additions"}

_Original = aliased(Tip, name="original")


class _AsText(FunctionElement[str]):
    """A timestamp, date or time column as the text an export writes, formatted by the
    database: cheaper than a Python object per value parsed and formatted again (an
    investigator's tip has five of them). Subclasses say which text; UTC throughout."""

    type = String()
    inherit_cache = True
    #: The expression on SQLite, which stores these as text: a timestamp as
    #: ``YYYY-MM-DD HH:MM:SS.ffffff`` (naive UTC), a date as ``YYYY-MM-DD``, a time as
    #: ``HH:MM:SS.ffffff`` (SQLAlchemy's storage formats), so slicing is exact.
    sqlite = ""
    #: The expression on PostgreSQL (``to_char`` truncates, as Python's ``isoformat`` does).
    postgresql = ""


class _UtcSeconds(_AsText):
    """``2024-03-01T09:00:00Z``: a timestamp in UTC to the second."""

    inherit_cache = True
    name = "tipbot_utc_seconds"
    sqlite = "substr({0}, 1, 10) || 'T' || substr({0}, 12, 8) || 'Z'"
    postgresql = """to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


class _UtcDay(_AsText):
    """``2024-03-01``: the UTC day of a timestamp."""

    inherit_cache = True
    name = "tipbot_utc_day"
    sqlite = "substr({0}, 1, 10)"
    postgresql = "to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


class _Day(_AsText):
    """``2024-03-01``: a date."""

    inherit_cache = True
    name = "tipbot_day"
    sqlite = "substr({0}, 1, 10)"
    postgresql = "to_char({0}, 'YYYY-MM-DD')"


class _Minutes(_AsText):
    """``05:40``: a time of day to the minute."""

    inherit_cache = True
    name = "tipbot_minutes"
    sqlite = "substr({0}, 1, 5)"
    postgresql = "to_char({0}, 'HH24:MI')"


@compiles(_AsText, "sqlite")
def _as_text_sqlite(element: _AsText, compiler: SQLCompiler, **kw: Any) -> str:
    return element.sqlite.format(compiler.process(element.clauses, **kw))


@compiles(_AsText, "postgresql")
def _as_text_postgresql(element: _AsText, compiler: SQLCompiler, **kw: Any) -> str:
    return element.postgresql.format(compiler.process(element.clauses, **kw))


@compiles(_AsText)
def _as_text_other(element: _AsText, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"exports support SQLite and PostgreSQL, not {compiler.dialect.name}")


# The columns read for each profile, in the order of its fields where they are the same
# (the records are built by position).
_INVESTIGATOR_COLUMNS: tuple[Any, ...] = (
    Tip.id,
    Tip.reference,
    Tip.status,
    _UtcSeconds(Tip.submitted_at),
    _UtcSeconds(Tip.reviewed_at),
    Tip.reject_reason,
    _Original.reference.label("original_reference"),
    Tip.duplicate_of_id,
    Tip.category,
    Tip.perpetrator,
    Tip.perpetrator_text,
    Tip.description,
    _Day(Tip.incident_date),
    Tip.incident_date_precision,
    _Minutes(Tip.incident_time),
    Tip.place_text,
    Tip.settlement,
    Tip.settlement_id,
    Tip.settlement_distance_km,
    Tip.oblast,
    Tip.lat,
    Tip.lon,
    Tip.location_precision,
    Tip.location_source,
    # As stored (0/1 on SQLite): a Boolean's result processor is the only one left in the
    # row, and having one makes SQLAlchemy process every value of every row.
    type_coerce(Tip.contact_allowed, Integer).label("contact_allowed"),
    Tip.language,
    Reporter.pseudonym,
    _UtcSeconds(Tip.purged_at),
    Tip.last_action,
    Tip.last_actor_name,
)
_PUBLIC_COLUMNS: tuple[Any, ...] = (
    Tip.id,
    Tip.status,
    _UtcDay(Tip.submitted_at),
    _UtcDay(Tip.reviewed_at),
    Tip.reject_reason,
    Tip.duplicate_of_id,
    Tip.category,
    Tip.perpetrator,
    _Day(Tip.incident_date),
    Tip.incident_date_precision,
    Tip.settlement,
    Tip.settlement_id,
    Tip.oblast,
    Tip.location_precision,
    Tip.location_source,
)
# Positions in an investigator row of what decides who gave the verdict.
_STATUS, _LAST_ACTION = 2, 28


def tip_conditions(filters: ExportFilters, profile: Profile) -> list[ColumnElement[bool]]:
    applied = filters.for_profile(profile)
    where: list[ColumnElement[bool]] = [Tip.status != TIP_DRAFT]
    if applied.statuses:
        where.append(Tip.status.in_(applied.statuses))
    if applied.verified_only:
        where.append(Tip.status == TIP_VERIFIED)
    if applied.categories:
        where.append(Tip.category.in_(applied.categories))
    if applied.oblasts:
        where.append(Tip.oblast.in_(applied.oblasts))
    if applied.since is not None:
        where.append(Tip.submitted_at >= applied.since)
    if applied.until is not None:
        where.append(Tip.submitted_at < applied.until)
    return where


def _page_query(filters: ExportFilters, profile: Profile) -> Select[Any]:
    if profile == Profile.PUBLIC:
        return select(*_PUBLIC_COLUMNS).where(*tip_conditions(filters, profile))
    return (
        select(*_INVESTIGATOR_COLUMNS)
        .join(Reporter, Reporter.id == Tip.reporter_id)
        .outerjoin(_Original, _Original.id == Tip.duplicate_of_id)
        .where(*tip_conditions(filters, profile))
    )


async def count_tips(sessions: SessionFactory, filters: ExportFilters, profile: Profile) -> int:
    """How many tips the export will hold (for progress; tips may change meanwhile)."""
    async with transaction(sessions) as session:
        query = select(func.count(Tip.id)).where(*tip_conditions(filters, profile))
        return int((await session.execute(query)).scalar_one())


# ------------------------------------------------------------------------------ the records


@cache
def _rome_statute(category: str | None) -> str | None:
    return (rome_statute_reference(category) or None) if category else None


@cache
def _oblast_label(code: str | None) -> str | None:
    return None if code is None else oblast_name(code, "en")


@cache
def _packaged_gazetteer() -> Gazetteer:
    return Gazetteer.load()


_NO_SETTLEMENT: tuple[str | None, str | None, str | None, float | None, float | None] = (
    None,
    None,
    None,
    None,
    None,
)


class _Places:
    """(KATOTTG code, hromada, raion, lat, lon) of settlements, from the gazetteer, looked up
    once per settlement and export. The gazetteer is the caller's (the bot has one loaded)
    or the packaged one, loaded on first use."""

    def __init__(self, gazetteer: Gazetteer | None) -> None:
        self._gazetteer = gazetteer
        self._known: dict[int, tuple[str | None, str | None, str | None, Any, Any]] = {}

    def __call__(
        self, settlement_id: int | None
    ) -> tuple[str | None, str | None, str | None, Any, Any]:
        if settlement_id is None:
            return _NO_SETTLEMENT
        known = self._known.get(settlement_id)
        if known is None:
            known = self._known[settlement_id] = self._look_up(settlement_id)
        return known

    def _look_up(self, settlement_id: int) -> tuple[str | None, str | None, str | None, Any, Any]:
        if self._gazetteer is None:
            self._gazetteer = _packaged_gazetteer()
        place = self._gazetteer.get(settlement_id)
        if place is None:
            return _NO_SETTLEMENT
        # Raion and hromada where the gazetteer has them (None for Kyiv and Sevastopol).
        hromada = getattr(place, "hromada", None)
        raion = getattr(place, "raion", None)
        return (
            getattr(place, "katottg", None),
            hromada.name_uk if hromada is not None else None,
            raion.name_uk if raion is not None else None,
            place.lat,
            place.lon,
        )


class _Page:
    """What a page of tips needs besides its own columns, each loaded in one query."""

    __slots__ = ("additions", "answers", "decided_by", "links", "media", "not_stored", "questions")

    def __init__(self) -> None:
        self.media: dict[int, list[str]] = defaultdict(list)
        self.not_stored: dict[int, int] = defaultdict(int)
        self.questions: dict[int, list[str]] = defaultdict(list)
        self.answers: dict[int, list[str]] = defaultdict(list)
        self.additions: dict[int, list[str]] = defaultdict(list)
        self.links: dict[int, list[str]] = defaultdict(list)
        self.decided_by: dict[int, str] = {}


class _Queries:
    """The statements of one export, built once: a page of tips after the bound id
    ``after``, and the files, notes and links of the tips the filters choose between
    ``after`` and ``last`` (joined rather than listed, so that each page only binds two
    numbers; the range is also put on the files', notes' and links' own tip ids, so that
    their indexes are used whatever the planner thinks of the join)."""

    def __init__(self, filters: ExportFilters, profile: Profile, batch: int) -> None:
        conditions = tip_conditions(filters, profile)
        after, last = bindparam("after", type_=Integer), bindparam("last", type_=Integer)
        self.profile = profile
        self.tips = (
            _page_query(filters, profile).where(Tip.id > after).order_by(Tip.id).limit(batch)
        )
        page = [*conditions, Tip.id > after, Tip.id <= last]
        self.media = (
            select(Media.tip_id, Media.status, Media.sha256)
            .join(Tip, Tip.id == Media.tip_id)
            .where(*page, Media.tip_id > after, Media.tip_id <= last)
            .order_by(Media.tip_id, Media.id)
        )
        self.notes = (
            select(TipNote.tip_id, TipNote.kind, TipNote.text)
            .join(Tip, Tip.id == TipNote.tip_id)
            .where(*page, TipNote.tip_id > after, TipNote.tip_id <= last)
            .where(TipNote.kind.in_(tuple(_NOTE_FIELDS)))
            .order_by(TipNote.tip_id, TipNote.id)
        )
        other = aliased(Tip, name="other")
        self.links = (
            select(TipLink.tip_id, TipLink.kind, other.reference)
            .join(Tip, Tip.id == TipLink.tip_id)
            .join(other, other.id == TipLink.other_tip_id)
            .where(*page, TipLink.tip_id > after, TipLink.tip_id <= last)
            .order_by(TipLink.tip_id, TipLink.id)
        )


async def _load_page(
    connection: AsyncConnection,
    queries: _Queries,
    bounds: dict[str, int],
    rows: Sequence[Sequence[Any]],
) -> _Page:
    """The page's files, notes, links and verdicts (``bounds``: its ids, ``after`` and
    ``last``)."""
    page = _Page()
    media = await connection.execute(queries.media, bounds)
    for tip_id, status, sha256 in media.all():
        if status == MEDIA_STORED and sha256:
            page.media[tip_id].append(sha256)
        else:
            page.not_stored[tip_id] += 1
    if queries.profile == Profile.PUBLIC:
        return page
    for tip_id, kind, text in (await connection.execute(queries.notes, bounds)).all():
        # A file sent as an answer has no text; the file itself is in media_sha256.
        if text:
            getattr(page, _NOTE_FIELDS[kind])[tip_id].append(text)
    for tip_id, kind, reference in (await connection.execute(queries.links, bounds)).all():
        page.links[tip_id].append(f"{kind}:{reference}")
    page.decided_by.update(await _logged_deciders(connection, rows))
    return page


async def _logged_deciders(
    connection: AsyncConnection, rows: Sequence[Sequence[Any]]
) -> dict[int, str]:
    """Who decided the tips whose verdict the tip no longer names. The verdict's moderator
    is on the tip until a later action (a ban) names another; then the custody log's
    verdict entry says who it was."""
    unsure = [
        row[0]
        for row in rows
        if row[_STATUS] in _VERDICT_STATUSES and row[_LAST_ACTION] not in _VERDICT_ACTIONS
    ]
    if not unsure:
        return {}
    verdicts = await connection.execute(
        select(CustodyEntry.tip_id, CustodyEntry.details)
        .where(CustodyEntry.tip_id.in_(unsure), CustodyEntry.action.in_(_VERDICT_ACTIONS))
        .order_by(CustodyEntry.seq)
    )
    found: dict[int, str] = {}
    for tip_id, details in verdicts.all():
        name = (details or {}).get("moderator")
        if isinstance(name, str):
            found[tip_id] = name
    return found


def _investigator_values(
    rows: Sequence[Sequence[Any]], page: _Page, places: _Places
) -> list[Values]:
    # One loop over the page, unpacking by position (the order of _INVESTIGATOR_COLUMNS):
    # a hundred thousand tips make every lookup and call per tip count.
    media, not_stored, links = page.media, page.not_stored, page.links
    questions, answers, additions = page.questions, page.answers, page.additions
    verdicts = page.decided_by
    values: list[Values] = []
    append = values.append
    for row in rows:
        (
            tip_id, reference, status, submitted_at, reviewed_at, reject_reason,
            original_reference, duplicate_of_id, category, perpetrator, perpetrator_text,
            description, incident_date, incident_date_precision, incident_time, place_text,
            settlement, settlement_id, settlement_distance_km, oblast, lat, lon,
            location_precision, location_source, contact_allowed, language, pseudonym,
            purged_at, last_action, last_actor_name,
        ) = row  # fmt: skip
        if status in _VERDICT_STATUSES:
            decided_by = (
                last_actor_name if last_action in _VERDICT_ACTIONS else verdicts.get(tip_id)
            )
        else:
            decided_by = None
        hashes = media.get(tip_id, [])
        katottg, hromada, raion, _, _ = places(settlement_id)
        contact = None if contact_allowed is None else bool(contact_allowed)
        append(
            (
                tip_id, reference, status, submitted_at, reviewed_at, decided_by,
                reject_reason, original_reference, duplicate_of_id, category,
                _rome_statute(category), perpetrator, perpetrator_text, description,
                incident_date, incident_date_precision, incident_time, place_text,
                settlement, settlement_id, settlement_distance_km, katottg, hromada, raion,
                oblast, _oblast_label(oblast), lat, lon, location_precision, location_source,
                contact, language, len(hashes), not_stored.get(tip_id, 0), hashes,
                links.get(tip_id, []), questions.get(tip_id, []), answers.get(tip_id, []),
                additions.get(tip_id, []), pseudonym, purged_at,
            )
        )  # fmt: skip
    return values


def _public_values(rows: Sequence[Sequence[Any]], page: _Page, places: _Places) -> list[Values]:
    media, not_stored = page.media, page.not_stored
    values: list[Values] = []
    append = values.append
    for row in rows:
        (
            tip_id, status, submitted_date, reviewed_date, reject_reason, duplicate_of_id,
            category, perpetrator, incident_date, incident_date_precision, settlement,
            settlement_id, oblast, location_precision, location_source,
        ) = row  # fmt: skip
        katottg, hromada, raion, lat, lon = places(settlement_id)
        append(
            (
                tip_id, status, submitted_date, reviewed_date, reject_reason, duplicate_of_id,
                category, _rome_statute(category), perpetrator, incident_date,
                incident_date_precision, settlement, settlement_id, katottg, hromada, raion,
                oblast, _oblast_label(oblast), lat, lon, location_precision, location_source,
                len(media.get(tip_id, ())), not_stored.get(tip_id, 0),
            )
        )  # fmt: skip
    return values


_BUILDERS: dict[Profile, Callable[[Sequence[Sequence[Any]], _Page, _Places], list[Values]]] = {
    Profile.INVESTIGATOR: _investigator_values,
    Profile.PUBLIC: _public_values,
}


async def _read_page(
    sessions: SessionFactory, queries: _Queries, after: int
) -> tuple[Sequence[Sequence[Any]], _Page]:
    """The tips after id ``after`` and what they need, in one short transaction."""
    async with transaction(sessions) as session:
        # Core execution: the rows are plain tuples, so the ORM's per-row work is saved.
        connection = await session.connection()
        if connection.dialect.name == "postgresql":
            # A page is at most ``batch`` rows read by an index in id order, but with a filter
            # (a period, a status) PostgreSQL expects to scan far more and starts parallel
            # workers for every page: 15-30 ms a page instead of 3. For this transaction only.
            await connection.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
        rows = (await connection.execute(queries.tips, {"after": after})).all()
        if not rows:
            return rows, _Page()
        page = await _load_page(connection, queries, {"after": after, "last": rows[-1][0]}, rows)
    return rows, page


#: Tips handed out at a time. Between two slices the event loop runs, and each turn of it
#: takes the next page's reading one step further (a statement sent, or its rows received):
#: while that reading is under way slices are small (:data:`SLICE_READING`), so that its half
#: dozen round trips are done before this page is; once it is done, larger.
SLICE = 100
SLICE_READING = 25


async def iter_tip_values(
    sessions: SessionFactory,
    filters: ExportFilters,
    profile: Profile,
    *,
    batch: int = 1000,
    gazetteer: Gazetteer | None = None,
) -> AsyncGenerator[list[Values], None]:
    """The tips the filters choose, in id order, redacted for the profile: lists of at most
    :data:`SLICE` tuples of values in :data:`FIELDS` order (what :func:`iter_tip_rows`
    makes records of), read in pages of ``batch`` tips, each in its own short transaction.

    The next page is read while this one is consumed: between two slices the generator
    lets the event loop run. Values are handed out only after their page's transaction
    ended, so a slow reader (a pipe, a Telegram upload) never holds the database: do not
    hold a transaction open while iterating (on SQLite a process has one connection).
    ``gazetteer`` gives raion, hromada, codifier code and the public profile's settlement
    centre; by default the packaged one is loaded once.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    queries = _Queries(filters, profile, batch)
    build = _BUILDERS[profile]
    places = _Places(gazetteer)
    reading = asyncio.ensure_future(_read_page(sessions, queries, 0))
    try:
        while True:
            rows, page = await reading
            if len(rows) == batch:
                reading = asyncio.ensure_future(_read_page(sessions, queries, rows[-1][0]))
            start = 0
            while start < len(rows):
                end = start + (SLICE if reading.done() else SLICE_READING)
                yield build(rows[start:end], page, places)
                start = end
                await asyncio.sleep(0)  # the next page's reading goes on meanwhile
            if len(rows) < batch:
                return
    finally:
        if not reading.done():
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading


async def iter_tip_rows(
    sessions: SessionFactory,
    filters: ExportFilters,
    profile: Profile,
    *,
    batch: int = 1000,
    gazetteer: Gazetteer | None = None,
) -> AsyncGenerator[Record, None]:
    """The export records of the tips the filters choose (dicts, keys in :data:`FIELDS`
    order), in id order, redacted for the profile; pages of ``batch`` tips, each read in
    its own short transaction, as :func:`iter_tip_values` (whose rules apply)."""
    fields = FIELDS[profile]
    async with contextlib.aclosing(
        iter_tip_values(sessions, filters, profile, batch=batch, gazetteer=gazetteer)
    ) as slices:
        async for values in slices:
            for tip in values:
                yield dict(zip(fields, tip, strict=True))
