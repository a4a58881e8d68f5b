"""Writes of a Space's own (PERSONAL) connectors: create, change, publish to live, delete,
their actions, and imports (an OpenAPI document, or a definition file as the built-ins are).

Versioning. A connector's definition lives in its versions (`ConnectorVersion`, immutable).
Every saved change makes the next version (v1, v2, …) and moves `latest_version`, which the
Test tab, DRAFT runs and every environment but `live` call; `live` calls `live_version`, moved
only by Publish to live (`connector_publish`), so editing a connector never changes what live
runs do. A save that changes nothing makes no version. Until its first publish, a connector's
live runs use its latest version (`selectors.resolve_connector`).

Every function is atomic and writes its audit row in the same transaction; the capability
checks are the callers' (views, the management command). Slugs are fixed once created: workflow
code (`fastn.connector.<slug>`) and connections name connectors by slug."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from apps.connectors.catalog import builtin_connectors
from apps.connectors.definition import (
    SLUG_RE,
    ConnectorDefinition,
    DefinitionError,
    code_name,
    parse_definition,
)
from apps.connectors.models import (
    Connection,
    Connector,
    ConnectorVersion,
    OAuthApp,
    Visibility,
)
from apps.connectors.openapi import ImportReport, load_document, openapi_to_definition
from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import Space

# Slugs a custom connector may not take even when the built-in catalog lacks them: `http` is
# the generic connector every workflow can call; "new", "import" and "typings" are paths of
# the console under /connectors/.
RESERVED_SLUGS = {"http", "new", "import", "typings"}
# Settings of a definition an OpenAPI document does not carry: an import into an existing
# connector keeps them from its latest version.
KEPT_ON_REIMPORT = ("name", "category", "iconUrl", "connectionFields", "headers", "test",
                    "pagination", "rateLimit", "events")  # fmt: skip


@dataclass(frozen=True)
class ImportResult:
    connector: Connector
    version: ConnectorVersion | None  # None: the definition was already the latest
    status: str  # "created", "updated" or "unchanged"
    report: ImportReport | None = None
    published: bool = False


# --- Checks ----------------------------------------------------------------------------------


def slug_problem(space: Space, slug: str, *, exclude: Connector | None = None) -> str:
    """Why `slug` cannot name a new connector of `space` ("" when it can)."""
    if not slug:
        return "Enter a slug: lowercase letters, digits and hyphens."
    if len(slug) > 64 or not SLUG_RE.fullmatch(slug):
        return "Use lowercase letters, digits and single hyphens (at most 64 characters)."
    builtins = builtin_connectors()
    if (
        slug in RESERVED_SLUGS
        or slug in builtins
        or any(d.code_name == code_name(slug) for d in builtins.values())
    ):
        return f"“{slug}” is the slug of a built-in connector. Choose another one."
    taken = Connector.objects.filter(space=space, slug=slug)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        return f"Another connector of this Space already uses the slug “{slug}”."
    clash = (
        Connector.objects.filter(space=space)
        .exclude(slug=slug)
        .exclude(pk=exclude.pk if exclude else None)
    )
    for other in clash.values_list("slug", flat=True):
        if code_name(other) == code_name(slug):
            return f"“{slug}” and “{other}” would have the same name in code ({code_name(slug)})."
    return ""


def _parsed(definition: dict) -> ConnectorDefinition:
    try:
        return parse_definition(definition)
    except DefinitionError as exc:
        raise ValidationError(exc.problems) from None


def _columns(connector: Connector, parsed: ConnectorDefinition) -> None:
    """The connector's listing columns follow its latest definition."""
    connector.name = parsed.name
    connector.description = parsed.description
    connector.category = parsed.category
    connector.domain = parsed.domain
    connector.icon_url = parsed.icon_url[:500]


def _new_version(connector, definition, parsed, *, actor, source, report=None):
    last = connector.versions.aggregate(n=Max("number"))["n"] or 0
    return ConnectorVersion.objects.create(
        connector=connector,
        number=last + 1,
        definition=definition,
        source=source,
        import_report=report.as_json() if report is not None else {},
        action_count=len(parsed.actions),
        event_count=len(parsed.events),
        created_by_id=actor.user_id,
    )


# --- Create, change, publish, delete ---------------------------------------------------------


@transaction.atomic
def connector_create(
    space: Space,
    *,
    definition: dict,
    actor: Actor,
    visibility: str = Visibility.PRIVATE,
    request=None,
    source: str = "form",
    report: ImportReport | None = None,
) -> Connector:
    """1. Check the slug (not a built-in's, not another of the Space's) and the definition.
    2. Save the connector and its v1 (not live: live runs use the latest version until the
       first Publish to live). 3. Audit."""
    definition = copy.deepcopy(definition)
    problem = slug_problem(space, str(definition.get("slug") or ""))
    if problem:
        raise ValidationError({"slug": problem})
    parsed = _parsed(definition)
    if visibility not in Visibility.values:
        raise ValidationError({"visibility": "Private or Public."})
    now = timezone.now()
    connector = Connector(
        space=space, slug=parsed.slug, visibility=visibility, created_by_id=actor.user_id,
        created_at=now, updated_at=now,
    )  # fmt: skip
    _columns(connector, parsed)
    try:
        with transaction.atomic():
            connector.save(force_insert=True)
    except IntegrityError:  # the same slug saved by a concurrent request
        raise ValidationError({"slug": f"The slug “{parsed.slug}” was just taken."}) from None
    version = _new_version(connector, definition, parsed, actor=actor, source=source,
                           report=report)  # fmt: skip
    connector.latest_version = version
    connector.save(update_fields=["latest_version"])
    audit_record(
        space=space, actor=actor, action="connector.create", resource=connector,
        request=request, detail={"slug": parsed.slug, "version": 1, "source": source,
                                 "actions": len(parsed.actions)},
    )  # fmt: skip
    return connector


def _locked(connector: Connector) -> Connector:
    return (
        Connector.objects.select_for_update(of=("self",))
        .select_related("latest_version", "live_version")
        .get(pk=connector.pk, space_id=connector.space_id)
    )


@transaction.atomic
def connector_save(
    connector: Connector,
    *,
    definition: dict,
    actor: Actor,
    request=None,
    source: str = "form",
    visibility: str | None = None,
    report: ImportReport | None = None,
) -> ConnectorVersion | None:
    """Save `definition` as the connector's next version; None when it equals the latest (a
    changed visibility alone is saved without a version: it is not part of the definition)."""
    current = _locked(connector)
    definition = copy.deepcopy(definition)
    if definition.get("slug") != current.slug:
        raise ValidationError(
            {"slug": f"The slug cannot change (it stays “{current.slug}”): workflows and "
                     "connections name the connector by it."}
        )  # fmt: skip
    parsed = _parsed(definition)
    fields = []
    if visibility is not None and visibility != current.visibility:
        if visibility not in Visibility.values:
            raise ValidationError({"visibility": "Private or Public."})
        current.visibility = visibility
        fields.append("visibility")
    latest = current.latest_version
    version = None
    if latest is None or latest.definition != definition:
        version = _new_version(current, definition, parsed, actor=actor, source=source,
                               report=report)  # fmt: skip
        current.latest_version = version
        _columns(current, parsed)
        fields += ["latest_version", "name", "description", "category", "domain", "icon_url"]
    if not fields:
        return None
    current.updated_at = timezone.now()
    current.save(update_fields=[*fields, "updated_at"])
    audit_record(
        space=current.space, actor=actor, action="connector.update", resource=current,
        request=request,
        detail={"version": version.number if version else None, "source": source},
    )  # fmt: skip
    connector.refresh_from_db()
    return version


@transaction.atomic
def connector_publish(
    connector: Connector,
    *,
    actor: Actor,
    request=None,
    version: ConnectorVersion | None = None,
) -> ConnectorVersion:
    """Live runs use `version` (default: the latest) from now on."""
    current = _locked(connector)
    target = version or current.latest_version
    if target is None or target.connector_id != current.pk:
        raise ValidationError("There is no version to publish.")
    if current.live_version_id == target.pk:
        raise ValidationError(f"v{target.number} is already live.")
    previous = current.live_version.number if current.live_version else None
    current.live_version = target
    current.updated_at = timezone.now()
    current.save(update_fields=["live_version", "updated_at"])
    audit_record(
        space=current.space, actor=actor, action="connector.publish", resource=current,
        request=request, detail={"version": target.number, "previous": previous},
    )  # fmt: skip
    connector.refresh_from_db()
    return target


@transaction.atomic
def connector_delete(connector: Connector, *, actor: Actor, request=None) -> None:
    """Refused while connections use the connector (their credentials would be orphaned and
    workflows would fail at their next call); the Space's OAuth app for it goes with it."""
    current = _locked(connector)
    in_use = list(
        Connection.objects.filter(space_id=current.space_id, connector_slug=current.slug)
        .select_related("customer")
        .order_by("name")
    )
    if in_use:
        names = ", ".join(f"{c.name} ({c.scope_label})" for c in in_use[:5])
        more = f" and {len(in_use) - 5} more" if len(in_use) > 5 else ""
        raise ValidationError(
            f"{current.name} cannot be deleted: {len(in_use)} connection"
            f"{'s use' if len(in_use) > 1 else ' uses'} it ({names}{more}). Disconnect "
            f"{'them' if len(in_use) > 1 else 'it'} on the Connections page first."
        )
    apps = OAuthApp.objects.filter(space_id=current.space_id, connector_slug=current.slug)
    removed_apps = apps.count()
    apps.delete()
    audit_record(
        space=current.space, actor=actor, action="connector.delete", resource=current,
        request=request,
        detail={"slug": current.slug, "versions": current.versions.count(),
                "oauth_apps": removed_apps},
    )  # fmt: skip
    current.delete()


# --- Actions ---------------------------------------------------------------------------------


def latest_definition(connector: Connector) -> dict:
    version = connector.latest_version
    return copy.deepcopy(version.definition) if version else {}


@transaction.atomic
def connector_action_save(
    connector: Connector,
    *,
    action: dict,
    actor: Actor,
    replaces: str = "",
    request=None,
) -> ConnectorVersion | None:
    """Add `action`, or replace the action named `replaces` (a rename keeps the connector's
    test action pointing at it). The latest version is read under the row's lock, so two
    people adding actions at once both keep theirs."""
    definition = latest_definition(_locked(connector))
    actions = list(definition.get("actions") or [])
    names = [a.get("name") for a in actions]
    name = action.get("name")
    if replaces:
        if replaces not in names:
            raise ValidationError(f"{connector.name} has no action named {replaces}.")
        if name != replaces and name in names:
            raise ValidationError({"name": f"{connector.name} already has an action {name}."})
        actions[names.index(replaces)] = action
        if (definition.get("test") or {}).get("action") == replaces:
            definition["test"]["action"] = name
    else:
        if name in names:
            raise ValidationError({"name": f"{connector.name} already has an action {name}."})
        actions.append(action)
    definition["actions"] = actions
    return connector_save(connector, definition=definition, actor=actor, request=request)


@transaction.atomic
def connector_action_delete(
    connector: Connector, *, name: str, actor: Actor, request=None
) -> ConnectorVersion | None:
    definition = latest_definition(_locked(connector))
    actions = [a for a in definition.get("actions") or [] if a.get("name") != name]
    if len(actions) == len(definition.get("actions") or []):
        raise ValidationError(f"{connector.name} has no action named {name}.")
    definition["actions"] = actions
    if (definition.get("test") or {}).get("action") == name:
        definition.pop("test")  # Test connection falls back to the connection's test URL
    return connector_save(connector, definition=definition, actor=actor, request=request)


# --- Imports ---------------------------------------------------------------------------------


@transaction.atomic
def connector_import_openapi(
    space: Space,
    raw: bytes | str,
    *,
    actor: Actor,
    slug: str = "",
    name: str = "",
    base_url: str = "",
    connector: Connector | None = None,
    update_existing: bool = False,
    visibility: str = Visibility.PRIVATE,
    publish: bool = False,
    request=None,
) -> ImportResult:
    """Import an OpenAPI 3.x / Swagger 2.0 document (raw JSON or YAML) as a new connector, or
    as the next version of `connector` (or of the Space's connector with the same slug when
    `update_existing`). One transaction: an error leaves nothing behind. Raises
    OpenAPIImportError (the document) or ValidationError (slug, definition)."""
    document = load_document(raw)
    if connector is not None:
        slug = connector.slug
    definition, report = openapi_to_definition(document, slug=slug, name=name,
                                               base_url=base_url)  # fmt: skip
    if connector is None and update_existing:
        connector = Connector.objects.filter(space=space, slug=definition["slug"]).first()
    if connector is None:
        created = connector_create(space, definition=definition, actor=actor,
                                   visibility=visibility, request=request, source="openapi",
                                   report=report)  # fmt: skip
        result = ImportResult(created, created.latest_version, "created", report)
    else:
        previous = latest_definition(connector)
        for key in KEPT_ON_REIMPORT:
            if key in previous and (key == "name" or key not in definition):
                definition[key] = previous[key]
        version = connector_save(connector, definition=definition, actor=actor,
                                 request=request, source="openapi", report=report)  # fmt: skip
        result = ImportResult(connector, version, "updated" if version else "unchanged", report)
    return _maybe_publish(result, publish=publish, actor=actor, request=request)


@transaction.atomic
def connector_import_definition(
    space: Space, data: dict, *, actor: Actor, publish: bool = False, request=None
) -> ImportResult:
    """A definition file (the built-ins' format): a new connector, or the next version of the
    Space's connector with its slug when the definition changed. Raises ValidationError."""
    if not isinstance(data, dict):
        raise ValidationError("A connector definition is a JSON object.")
    _parsed(data)  # every problem of the file at once, before the slug is looked at
    existing = Connector.objects.filter(space=space, slug=data.get("slug")).first()
    if existing is None:
        connector = connector_create(space, definition=data, actor=actor, request=request,
                                     source="file")  # fmt: skip
        result = ImportResult(connector, connector.latest_version, "created")
    else:
        version = connector_save(existing, definition=data, actor=actor, request=request,
                                 source="file")  # fmt: skip
        result = ImportResult(existing, version, "updated" if version else "unchanged")
    return _maybe_publish(result, publish=publish, actor=actor, request=request)


def _maybe_publish(result: ImportResult, *, publish: bool, actor, request) -> ImportResult:
    connector = result.connector
    if not publish or connector.live_version_id == connector.latest_version_id:
        return result
    connector_publish(connector, actor=actor, request=request)
    return ImportResult(connector, result.version, result.status, result.report, True)
