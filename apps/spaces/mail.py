"""Where outgoing email really goes. With no SMTP server configured (the embedded default), the
console's email backend only writes messages to the web process's output: telling a person
"Confirmation email sent" then sends them to an inbox that will never receive it."""

from __future__ import annotations

from django.core import mail
from django.core.mail.backends.console import EmailBackend as ConsoleBackend
from django.core.mail.backends.dummy import EmailBackend as DummyBackend
from django.core.mail.backends.filebased import EmailBackend as FileBackend
from django.core.mail.backends.locmem import EmailBackend as MemoryBackend

# Checked in this order: the file backend is a subclass of the console one.
UNDELIVERED = (
    (FileBackend, "saved as a file in the EMAIL_FILE_PATH folder on the server"),
    (ConsoleBackend, "written to the console log (standard output) of the web process"),
    (MemoryBackend, "kept in the web process's memory (the test email backend)"),
    (DummyBackend, "discarded (the dummy email backend)"),
)


def undelivered_destination() -> str | None:
    """Where email goes instead of a mailbox ("written to the console log …"), or None when
    the configured backend delivers it (SMTP or any other real backend)."""
    backend = mail.mailers.default
    for kind, where in UNDELIVERED:
        if isinstance(backend, kind):
            return where
    return None


def undelivered_note(what: str, *, to: str = "") -> str | None:
    """A sentence saying that `what` ("the confirmation link") did not leave the server, and
    where it is; None when email is really delivered."""
    where = undelivered_destination()
    if where is None:
        return None
    recipient = f" to {to}" if to else ""
    return (
        f"Email delivery is not configured on this server, so no email was sent{recipient}: "
        f"{what} was "
        f"{where}. Whoever runs this console can find it there, or set EMAIL_HOST to send "
        "real email."
    )
