"""Reading a request's body for the API: `read_body(request)` reads it under the upload cap,
chunked bodies included. It is parsed by the strict JSON parser every app shares
(fastn_console/strictjson.py)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig

from apps.api.errors import ApiError

READ_CHUNK = 64 * 1024
try:
    # gunicorn (the Procfile's server) raises these for a bad chunk size or terminator.
    from gunicorn.http.errors import ParseException as _ServerParseError
except ImportError:  # another WSGI server
    _ServerParseError = OSError
# What reading a body raises when the client sends a broken one or hangs up.
BROKEN_BODY = (OSError, _ServerParseError)


def read_body(request) -> bytes:
    """The raw body, at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes (413 above it).

    A body sent with `Transfer-Encoding: chunked` has no Content-Length, and Django reads such
    a body as empty; the server (gunicorn) de-chunks it on `wsgi.input`, so it is read from
    there, counting while reading. What was read is kept as `request.body` for later readers."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    too_big = ApiError(413, f"The body exceeds {limit} bytes.")
    length = request.META.get("CONTENT_LENGTH")
    if not length and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        stream, parts, size = request.META["wsgi.input"], [], 0
        try:
            while chunk := stream.read(READ_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise too_big
                parts.append(chunk)
        except BROKEN_BODY:
            raise ApiError(
                400, "The chunked body is malformed or ended before its last chunk."
            ) from None
        request._body = b"".join(parts)  # what HttpRequest.body caches and answers from
        return request._body
    try:
        declared = int(length or 0)
    except ValueError:
        raise ApiError(400, "The Content-Length header is not a number.") from None
    if declared > limit:
        raise too_big
    try:
        return request.body
    except RequestDataTooBig:
        raise too_big from None
    except BROKEN_BODY:  # UnreadablePostError: the client hung up before its Content-Length
        raise ApiError(400, "The body ended before its Content-Length.") from None
