"""RFC 7512 ``pkcs11:`` URIs naming a token and, optionally, one key object in it.

``pkcs11:token=Issuer%20A;object=emv_ac?module-path=/usr/lib/softhsm/libsofthsm2.so``

Path attributes are separated by ``;``, query attributes by ``&``; values are
percent-encoded. Only ``token``, ``object``, ``type`` (``secret-key``) and the query
``module-path`` mean something here; other standard attributes (``manufacturer``,
``serial``, ``id``...) are accepted and ignored. A PIN in the URI (``pin-value``) is
refused: PINs come from the environment or a prompt, never a command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

from .errors import KeyURIError

__all__ = ["PKCS11URI", "is_pkcs11_uri", "parse_pkcs11_uri"]

SCHEME = "pkcs11:"


@dataclass(frozen=True)
class PKCS11URI:
    """A token label, an optional key label and an optional module path."""

    token: str
    object: str | None = None
    module_path: str | None = None

    def __str__(self) -> str:
        text = f"{SCHEME}token={_quote(self.token)}"
        if self.object is not None:
            text += f";object={_quote(self.object)}"
        if self.module_path is not None:
            text += f"?module-path={_quote(self.module_path)}"
        return text


def is_pkcs11_uri(text: object) -> bool:
    """Whether ``text`` (a ``--keys`` value) names a token rather than a file."""
    return isinstance(text, str) and text.startswith(SCHEME)


def parse_pkcs11_uri(text: str) -> PKCS11URI:
    """Parse ``text``; a :class:`KeyURIError` names what is wrong."""
    if not is_pkcs11_uri(text):
        raise KeyURIError(f"{text!r} is not a pkcs11: URI")
    path, _, query = text[len(SCHEME):].partition("?")
    attrs = _attributes(path, ";", text)
    queries = _attributes(query, "&", text)
    if {"pin-value", "pin-source"} & (set(queries) | set(attrs)):
        raise KeyURIError("a PIN never goes in the URI: set DUALCARD_HSM_PIN or answer the prompt")
    if attrs.get("type", "secret-key") != "secret-key":
        raise KeyURIError(f"{text}: only secret keys are used (type={attrs['type']})")
    if not attrs.get("token"):
        raise KeyURIError(f"{text}: the URI must name the token (token=<label>)")
    return PKCS11URI(attrs["token"], attrs.get("object") or None, queries.get("module-path"))


def _attributes(part: str, separator: str, whole: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in filter(None, part.split(separator)):
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise KeyURIError(f"{whole}: {item!r} is not name=value")
        if name in found:
            raise KeyURIError(f"{whole}: {name} is given twice")
        try:
            found[name] = unquote(value, errors="strict")
        except UnicodeDecodeError:
            raise KeyURIError(f"{whole}: {name} is not percent-encoded UTF-8") from None
    return found


def _quote(value: str) -> str:
    return quote(value, safe="-._~/")
