"""Writes for workflows. Each function is atomic and writes its audit row in the same
transaction; the capability checks are the callers' (views, API, management command)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.environments.models import TEST, Environment
from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import Space
from apps.workflows.models import (
    DEFAULT_CODE,
    DESCRIPTION_MAX,
    MAX_CODE_BYTES,
    NAME_MAX,
    RELEASE_NOTE_MAX,
    RETRY_ATTEMPTS_RANGE,
    RETRY_COEFFICIENT_RANGE,
    RETRY_INITIAL_RANGE_MS,
    RETRY_MAX_INTERVAL_LIMIT_MS,
    SLUG_MAX,
    TIER_LIMITS,
    Deployment,
    EditedVia,
    Tier,
    Workflow,
    WorkflowVersion,
)


class WorkflowFields(TypedDict, total=False):
    """The editable fields of a draft, as forms, the API and the importer pass them."""

    name: str
    slug: str
    description: str
    tier: str
    timeout_seconds: int
    retry_enabled: bool
    retry_max_attempts: int
    retry_initial_interval_ms: int
    retry_backoff_coefficient: float
    retry_max_interval_ms: int
    enabled: bool
    code: str


FIELD_ORDER = list(WorkflowFields.__annotations__)
# Form/API names → model attribute names (only `code` differs).
MODEL_ATTR = {name: ("draft_code" if name == "code" else name) for name in FIELD_ORDER}


class StaleDraft(Exception):
    """The draft changed since the caller loaded it: a save would overwrite someone's work."""

    def __init__(self, current: Workflow):
        super().__init__("The draft changed since it was loaded.")
        self.current = current


# --- Validation -----------------------------------------------------------------------------


def code_size_error(code: str) -> str | None:
    size = len(code.encode("utf-8"))
    if size > MAX_CODE_BYTES:
        return (
            f"The code is {size:,} bytes; the limit is {MAX_CODE_BYTES:,} bytes (1 MB). "
            "Move data out of the code (fastn.db, fastn.state) or split the workflow."
        )
    return None


def seconds_label(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def workflow_validate(
    space: Space, fields: WorkflowFields, *, workflow: Workflow | None = None
) -> WorkflowFields:
    """Check a complete set of draft fields against every rule; answer them normalised, or
    raise a ValidationError whose dict names each offending field."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = dict(fields)

    name = (fields.get("name") or "").strip()
    out["name"] = name
    if not name:
        errors["name"] = "Give the workflow a name."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Keep the name to {NAME_MAX} characters (it has {len(name)})."

    published = workflow is not None and workflow.versions.exists()
    slug = (fields.get("slug") or "").strip()
    if published:
        if slug and slug != workflow.slug:
            errors["slug"] = (
                "The slug cannot change after the first publish: API callers, webhooks and "
                "exported files use it."
            )
        slug = workflow.slug
    elif not slug:
        slug = slugify(name)[:SLUG_MAX].strip("-")
    out["slug"] = slug
    if "slug" not in errors:
        if not slug:
            errors["slug"] = "Enter a slug: lowercase letters, digits and hyphens."
        elif len(slug) > SLUG_MAX:
            errors["slug"] = f"Keep the slug to {SLUG_MAX} characters."
        elif slug != slugify(slug) or "_" in slug:
            errors["slug"] = "Use lowercase letters, digits and single hyphens only."
        else:
            clash = Workflow.objects.filter(space=space, slug=slug)
            if workflow is not None:
                clash = clash.exclude(pk=workflow.pk)
            if clash.exists():
                errors["slug"] = (
                    f"Another workflow in this Space already uses the slug “{slug}”. "
                    "Choose a different one."
                )

    description = (fields.get("description") or "").strip()
    out["description"] = description
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = (
            f"Keep the description to {DESCRIPTION_MAX} characters (it has {len(description)})."
        )

    tier = fields.get("tier")
    if tier not in Tier.values:
        errors["tier"] = "Choose Instant, Standard or Long."
    else:
        low, high, default = TIER_LIMITS[tier]
        timeout = fields.get("timeout_seconds")
        if timeout is None:
            out["timeout_seconds"] = timeout = default
        if not isinstance(timeout, int) or isinstance(timeout, bool):
            errors["timeout_seconds"] = "Enter the timeout as a whole number of seconds."
        elif not low <= timeout <= high:
            errors["timeout_seconds"] = (
                f"{Tier(tier).label} workflows time out between {seconds_label(low)} and "
                f"{seconds_label(high)} ({low}–{high} seconds)."
            )

    def in_range(key: str, low: float, high: float, what: str, integer: bool = True) -> None:
        value = fields.get(key)
        if integer and (not isinstance(value, int) or isinstance(value, bool)):
            errors[key] = f"Enter {what} as a whole number."
        elif not integer and (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            errors[key] = f"Enter {what} as a number."
        elif not low <= value <= high:
            errors[key] = f"{what[0].upper()}{what[1:]} must be between {low:g} and {high:g}."

    in_range("retry_max_attempts", *RETRY_ATTEMPTS_RANGE, "max attempts")
    in_range("retry_initial_interval_ms", *RETRY_INITIAL_RANGE_MS, "the initial interval (ms)")
    in_range(
        "retry_backoff_coefficient",
        *RETRY_COEFFICIENT_RANGE,
        "the backoff coefficient",
        integer=False,
    )
    in_range(
        "retry_max_interval_ms",
        RETRY_INITIAL_RANGE_MS[0],
        RETRY_MAX_INTERVAL_LIMIT_MS,
        "the max interval (ms)",
    )
    if not ({"retry_initial_interval_ms", "retry_max_interval_ms"} & errors.keys()) and (
        fields["retry_max_interval_ms"] < fields["retry_initial_interval_ms"]
    ):
        errors["retry_max_interval_ms"] = (
            "The max interval cannot be shorter than the initial interval."
        )
    if "retry_backoff_coefficient" not in errors:
        out["retry_backoff_coefficient"] = float(fields["retry_backoff_coefficient"])

    for key in ("retry_enabled", "enabled"):
        if not isinstance(fields.get(key), bool):
            errors[key] = "Choose on or off."

    code = fields.get("code")
    if not isinstance(code, str):
        errors["code"] = "The code is missing."
    else:
        problem = code_size_error(code)
        if problem:
            errors["code"] = problem

    if errors:
        raise ValidationError(errors)
    return out  # type: ignore[return-value]


def defaults_for_new() -> WorkflowFields:
    """What Create Workflow starts from: the model defaults and the template of DESIGN §4."""
    blank = Workflow()
    fields: dict[str, Any] = {
        key: getattr(blank, MODEL_ATTR[key]) for key in FIELD_ORDER if key != "code"
    }
    fields["code"] = DEFAULT_CODE
    return fields  # type: ignore[return-value]


def fields_of(workflow: Workflow) -> WorkflowFields:
    return {key: getattr(workflow, attr) for key, attr in MODEL_ATTR.items()}  # type: ignore[return-value]


# --- Create, save, restore, delete ----------------------------------------------------------


def workflow_create(
    space: Space,
    *,
    actor: Actor,
    created_by=None,
    edited_via: str = EditedVia.MANUAL,
    request=None,
    **fields: Unpack[WorkflowFields],
) -> Workflow:
    """Create a workflow from a complete set of fields (see `defaults_for_new`)."""
    values = {**defaults_for_new(), **fields}
    if "timeout_seconds" not in fields and fields.get("tier") in TIER_LIMITS:
        values["timeout_seconds"] = TIER_LIMITS[fields["tier"]][2]
    cleaned = workflow_validate(space, values)
    workflow = Workflow(space=space, created_by=created_by, edited_via=edited_via)
    for key, attr in MODEL_ATTR.items():
        setattr(workflow, attr, cleaned[key])
    try:
        with transaction.atomic():
            workflow.save(force_insert=True)
            audit_record(
                space=space,
                actor=actor,
                action="workflow.create",
                resource=workflow,
                request=request,
                detail={"slug": workflow.slug, "tier": workflow.tier},
            )
    except IntegrityError:
        # Created concurrently with the same slug, between the check and the insert.
        raise ValidationError(
            {"slug": f"Another workflow in this Space already uses the slug “{workflow.slug}”."}
        ) from None
    return workflow


@dataclass
class SaveResult:
    workflow: Workflow
    changed: list[str] = field(default_factory=list)


def workflow_update(
    workflow: Workflow,
    *,
    expected_revision: int | None,
    actor: Actor,
    edited_via: str = EditedVia.MANUAL,
    request=None,
    **fields: Unpack[WorkflowFields],
) -> SaveResult:
    """Save the draft (no version). Fields left out keep their value.

    1. Lock the row; if its revision is not `expected_revision` (None = don't check: the
       importer) raise StaleDraft, so that a second tab never silently overwrites the first.
    2. Validate the merged fields (the slug is frozen after the first publish).
    3. Nothing changed: nothing is written. Otherwise bump the revision, write, audit.
    """
    with transaction.atomic():
        current = Workflow.objects.select_for_update().get(pk=workflow.pk)
        if expected_revision is not None and current.draft_revision != expected_revision:
            raise StaleDraft(current)
        merged = {**fields_of(current), **fields}
        cleaned = workflow_validate(current.space, merged, workflow=current)
        changed = [key for key in FIELD_ORDER if cleaned[key] != getattr(current, MODEL_ATTR[key])]
        if not changed:
            return SaveResult(current, [])
        for key in changed:
            setattr(current, MODEL_ATTR[key], cleaned[key])
        if "code" in changed:
            current.edited_via = edited_via
        current.draft_revision += 1
        current.updated_at = timezone.now()
        try:
            with transaction.atomic():
                current.save()
        except IntegrityError:
            raise ValidationError(
                {"slug": f"Another workflow in this Space already uses the slug “{current.slug}”."}
            ) from None
        audit_record(
            space=current.space,
            actor=actor,
            action="workflow.update",
            resource=current,
            request=request,
            detail={"changed": changed, "revision": current.draft_revision},
        )
    return SaveResult(current, changed)


def workflow_restore(
    workflow: Workflow,
    *,
    version: WorkflowVersion,
    actor: Actor,
    request=None,
) -> Workflow:
    """Copy a version's code and configuration into the draft. Publishing it again makes the
    next version; the restored version itself stays as it was."""
    if version.workflow_id != workflow.pk:
        raise ValueError("version of another workflow")
    with transaction.atomic():
        current = Workflow.objects.select_for_update().get(pk=workflow.pk)
        current.apply_config(version.config)
        current.draft_code = version.code
        current.edited_via = EditedVia.MANUAL
        current.draft_revision += 1
        current.updated_at = timezone.now()
        current.save()
        audit_record(
            space=current.space,
            actor=actor,
            action="workflow.restore",
            resource=current,
            request=request,
            detail={"version": version.number, "revision": current.draft_revision},
        )
    return current


def workflow_delete(workflow: Workflow, *, actor: Actor, request=None) -> None:
    """Delete a workflow with its versions and deployments. Execution history stays."""
    with transaction.atomic():
        audit_record(
            space=workflow.space,
            actor=actor,
            action="workflow.delete",
            resource=workflow,
            request=request,
            detail={"slug": workflow.slug},
        )
        workflow.delete()


# --- Publish and deploy ---------------------------------------------------------------------


def release_note_error(note: str) -> str | None:
    if len(note) > RELEASE_NOTE_MAX:
        return f"Keep the release note to {RELEASE_NOTE_MAX} characters (it has {len(note)})."
    return None


def workflow_publish(
    workflow: Workflow, *, actor: Actor, created_by=None, release_note: str = "", request=None
):
    """Freeze the draft into the next immutable version, with an optional release note.

    1. Lock the workflow row: concurrent publishes of one workflow queue here, so numbers
       have no gaps and no duplicates (the unique constraint is the backstop).
    2. Refuse when the draft's code and configuration equal the latest version's.
    3. Create vN+1 and audit.
    """
    release_note = release_note.strip()
    problem = release_note_error(release_note)
    if problem:
        raise ValidationError({"release_note": problem})
    with transaction.atomic():
        current = Workflow.objects.select_for_update().get(pk=workflow.pk)
        latest = current.versions.order_by("-number").first()
        config = current.config()
        if latest is not None and latest.code == current.draft_code and latest.config == config:
            raise ValidationError(
                f"Nothing changed since v{latest.number}: edit the code or the configuration "
                "before publishing a new version.",
                code="unchanged",
            )
        problem = code_size_error(current.draft_code)
        if problem:
            raise ValidationError(problem, code="too_big")
        version = WorkflowVersion.objects.create(
            workflow=current,
            number=(latest.number if latest else 0) + 1,
            code=current.draft_code,
            config=config,
            release_note=release_note,
            created_by=created_by,
        )
        Workflow.objects.filter(pk=current.pk).update(updated_at=timezone.now())
        audit_record(
            space=current.space,
            actor=actor,
            action="workflow.publish",
            resource=current,
            request=request,
            detail={
                "version": version.number,
                "revision": current.draft_revision,
                "release_note": release_note,
            },
        )
    return version


def workflow_deploy(
    workflow: Workflow,
    *,
    version: WorkflowVersion,
    environment: Environment,
    actor: Actor,
    deployed_by=None,
    request=None,
) -> Deployment:
    """Make `version` serve `environment` (`live` or a named one). Deploying an older version
    is the rollback. `test` needs no deployment: it always serves the latest published
    version. Deploying the version already there changes nothing."""
    if version.workflow_id != workflow.pk or environment.space_id != workflow.space_id:
        raise ValueError("version or environment of another workflow or Space")
    if environment.slug == TEST:
        raise ValidationError(
            "The test environment always serves the latest published version: publish to "
            "update it. Deploy to live or a named environment to pin a version.",
            code="test_follows_latest",
        )
    with transaction.atomic():
        Workflow.objects.select_for_update().filter(pk=workflow.pk).first()
        deployment = (
            Deployment.objects.select_for_update()
            .filter(workflow=workflow, environment=environment)
            .select_related("version")
            .first()
        )
        previous = deployment.version.number if deployment else None
        if deployment is not None and deployment.version_id == version.pk:
            return deployment
        if deployment is None:
            deployment = Deployment(workflow=workflow, environment=environment)
        deployment.version = version
        deployment.deployed_by = deployed_by
        deployment.deployed_at = timezone.now()
        deployment.save()
        Workflow.objects.filter(pk=workflow.pk).update(updated_at=timezone.now())
        audit_record(
            space=workflow.space,
            actor=actor,
            action="workflow.deploy",
            resource=workflow,
            request=request,
            detail={
                "environment": environment.slug,
                "version": version.number,
                "previous_version": previous,
                "rollback": previous is not None and version.number < previous,
            },
        )
    return deployment


# --- Workflows as files ---------------------------------------------------------------------


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    deployed: list[str] = field(default_factory=list)

    @property
    def changed_anything(self) -> bool:
        return bool(self.created or self.updated or self.published or self.deployed)

    def as_detail(self) -> dict[str, list[str]]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "published": self.published,
            "deployed": self.deployed,
        }


def workflow_export(space: Space, *, directory, actor: Actor) -> list[Workflow]:
    """Write every workflow of the Space as `<slug>.js` + `<slug>.json` into `directory`."""
    from pathlib import Path

    from apps.workflows.files import write_files

    workflows = list(Workflow.objects.filter(space=space).order_by("slug"))
    for workflow in workflows:
        write_files(workflow, Path(directory))
    with transaction.atomic():
        audit_record(
            space=space,
            actor=actor,
            action="workflow.export",
            resource_label=f"{len(workflows)} workflows",
            detail={"slugs": [w.slug for w in workflows], "directory": str(directory)},
        )
    return workflows


def workflow_import(
    space: Space,
    *,
    files: list,
    publish: bool = False,
    deploy_to: Environment | None = None,
    actor: Actor,
) -> ImportReport:
    """Create or update drafts from workflow files, optionally publish and deploy them.

    1. Validate every file against the same rules as the editor before writing anything; the
       first problem raises ValidationError naming the file and the field.
    2. In one transaction: create or update each draft (unchanged ones are left alone), then
       publish the drafts that differ from their latest version, then deploy the latest
       version to `deploy_to` where it is not deployed yet. Importing the same files twice
       changes nothing.
    3. Audit the import as a whole (each create/update/publish/deploy is audited too).
    """
    from apps.workflows.files import FILE_FIELD

    if deploy_to is not None and deploy_to.space_id != space.id:
        raise ValueError("environment of another Space")
    existing = {
        w.slug: w for w in Workflow.objects.filter(space=space, slug__in=[f.slug for f in files])
    }
    plans = []
    for item in files:
        fields = item.fields()
        try:
            workflow_validate(space, fields, workflow=existing.get(item.slug))
        except ValidationError as exc:
            key, messages = next(iter(exc.message_dict.items()))
            raise ValidationError(
                f"{item.source or item.slug}: field “{FILE_FIELD.get(key, key)}”: {messages[0]}"
            ) from None
        plans.append((item, fields))

    report = ImportReport()
    with transaction.atomic():
        for item, fields in plans:
            workflow = existing.get(item.slug)
            if workflow is None:
                workflow = workflow_create(space, actor=actor, **fields)
                report.created.append(item.slug)
            else:
                result = workflow_update(workflow, expected_revision=None, actor=actor, **fields)
                workflow = result.workflow
                (report.updated if result.changed else report.unchanged).append(item.slug)
            if publish:
                latest = workflow.versions.order_by("-number").first()
                if (
                    latest is None
                    or latest.code != workflow.draft_code
                    or latest.config != workflow.config()
                ):
                    version = workflow_publish(workflow, actor=actor)
                    report.published.append(f"{item.slug} v{version.number}")
            if deploy_to is not None and deploy_to.slug != TEST:
                latest = workflow.versions.order_by("-number").first()
                if latest is None:
                    raise ValidationError(
                        f"{item.slug}: has no published version to deploy; add --publish."
                    )
                current = Deployment.objects.filter(
                    workflow=workflow, environment=deploy_to
                ).first()
                if current is None or current.version_id != latest.pk:
                    workflow_deploy(workflow, version=latest, environment=deploy_to, actor=actor)
                    report.deployed.append(f"{item.slug} v{latest.number} → {deploy_to.slug}")
        audit_record(
            space=space,
            actor=actor,
            action="workflow.import",
            resource_label=f"{len(files)} workflows",
            detail=report.as_detail(),
        )
    return report
