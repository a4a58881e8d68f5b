"""Settings → OAuth Apps: the OAuth 2.0 client (id and secret) a Space uses for a connector.
The client secret is sealed like a credential (`apps.connectors.credentials.seal`) and never
read back by a page. Every change is atomic and audited without the secret."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.connectors.credentials import seal
from apps.connectors.models import OAuthApp
from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import Space


class OAuthAppExists(Exception):
    """The Space already has an OAuth app for that connector (made concurrently)."""


def _detail(app: OAuthApp, **extra) -> dict:
    return {
        "connector": app.connector_slug,
        "clientId": app.client_id,
        "authorizationUrl": app.authorization_url,
        "tokenUrl": app.token_url,
        "scopes": app.scopes,
        **extra,
    }


@transaction.atomic
def oauth_app_create(
    space: Space,
    *,
    connector_slug: str,
    client_id: str,
    client_secret: str,
    authorization_url: str = "",
    token_url: str = "",
    scopes: str = "",
    actor: Actor,
    request=None,
) -> OAuthApp:
    app = OAuthApp(
        space=space,
        connector_slug=connector_slug,
        client_id=client_id,
        authorization_url=authorization_url,
        token_url=token_url,
        scopes=scopes,
    )
    seal(app, {"clientSecret": client_secret})
    try:
        with transaction.atomic():
            app.save(force_insert=True)
    except IntegrityError:
        raise OAuthAppExists(f"An OAuth app for {connector_slug} already exists.") from None
    audit_record(
        space=space,
        actor=actor,
        action="oauth_app.create",
        resource=app,
        request=request,
        detail=_detail(app),
    )
    return app


@transaction.atomic
def oauth_app_update(
    app: OAuthApp,
    *,
    client_id: str,
    client_secret: str | None,
    authorization_url: str = "",
    token_url: str = "",
    scopes: str = "",
    actor: Actor,
    request=None,
) -> OAuthApp:
    """Change the app's settings; a `client_secret` replaces the sealed one (None keeps it)."""
    app.client_id = client_id
    app.authorization_url = authorization_url
    app.token_url = token_url
    app.scopes = scopes
    app.updated_at = timezone.now()
    fields = ["client_id", "authorization_url", "token_url", "scopes", "updated_at"]
    if client_secret is not None:
        seal(app, {"clientSecret": client_secret})
        fields += ["ciphertext", "nonce", "data_key"]
    app.save(update_fields=fields)
    audit_record(
        space=app.space,
        actor=actor,
        action="oauth_app.update",
        resource=app,
        request=request,
        detail=_detail(app, secretReplaced=client_secret is not None),
    )
    return app


@transaction.atomic
def oauth_app_delete(app: OAuthApp, *, actor: Actor, request=None) -> None:
    audit_record(
        space=app.space,
        actor=actor,
        action="oauth_app.delete",
        resource=app,
        request=request,
        detail={"connector": app.connector_slug, "clientId": app.client_id},
    )
    app.delete()
