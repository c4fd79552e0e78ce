"""The dialect's errors: the original API's codes (``AuthFailure.SignatureFailure``,
``ResourceNotFound.FileNotExist``, ...) and how livetape's catalogue maps onto them.

Every answer of the dialect is HTTP 200; an error is
``{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`` (the SDK reads errors only so).
A :class:`LivetapeError` raised by the services the REST API shares becomes the dialect's code
here, and only here: the message keeps livetape's own message and hint.
"""

from __future__ import annotations

from typing import Any

from livetape.errors import Catalogue, LivetapeError

# the common codes of the original's API 3.0 that livetape answers
SIGNATURE_FAILURE = "AuthFailure.SignatureFailure"
SIGNATURE_EXPIRE = "AuthFailure.SignatureExpire"
SECRET_ID_NOT_FOUND = "AuthFailure.SecretIdNotFound"
INVALID_AUTHORIZATION = "AuthFailure.InvalidAuthorization"
UNAUTHORIZED_OPERATION = "AuthFailure.UnauthorizedOperation"
MISSING_PARAMETER = "MissingParameter"
UNKNOWN_PARAMETER = "UnknownParameter"
INVALID_PARAMETER = "InvalidParameter"
INVALID_PARAMETER_VALUE = "InvalidParameterValue"
NO_SUCH_VERSION = "NoSuchVersion"
UNSUPPORTED_OPERATION = "UnsupportedOperation"
FAILED_OPERATION = "FailedOperation"
RESOURCE_NOT_FOUND = "ResourceNotFound"
INTERNAL_ERROR = "InternalError"

# what a "no <thing>" message of the catalogue's NOT_FOUND names, as the original's subcode
_NOT_FOUND = (("no file", "ResourceNotFound.FileNotExist"),
              ("no class", "ResourceNotFound.ClassNotExist"),
              ("no job", "ResourceNotFound.TaskNotExist"))


class DialectError(Exception):
    """An error answered in the dialect's shape: a code such as
    ``InvalidParameterValue.Limit`` and a message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def error_body(code: str, message: str, request_id: str) -> dict[str, Any]:
    """The dialect's error reply."""
    return {"Response": {"Error": {"Code": code, "Message": message},
                         "RequestId": request_id}}


def from_catalogue(error: LivetapeError, *, conflict: str = FAILED_OPERATION) -> DialectError:
    """A catalogued failure of a shared service, in the dialect's codes. ``conflict``: the code
    a 1002 (already exists / in use) takes in this action (e.g.
    ``FailedOperation.ClassNameDuplicate``)."""
    message = error.body()["message"]
    if error.hint and error.hint != error.kind.hint:
        message = f"{message} ({error.hint})"
    kind = error.kind
    if kind is Catalogue.INVALID_PARAMETER:
        return DialectError(INVALID_PARAMETER_VALUE, message)
    if kind is Catalogue.NOT_FOUND:
        detail = error.detail or ""
        code = next((c for prefix, c in _NOT_FOUND if detail.startswith(prefix)),
                    RESOURCE_NOT_FOUND)
        return DialectError(code, message)
    if kind is Catalogue.CONFLICT:
        return DialectError(conflict, message)
    if kind is Catalogue.UNAUTHORIZED:
        return DialectError(UNAUTHORIZED_OPERATION, message)
    if kind is Catalogue.STORAGE_UNAVAILABLE or kind is Catalogue.INTERNAL_ERROR:
        return DialectError(INTERNAL_ERROR, message)
    return DialectError(FAILED_OPERATION, message)
