"""RFC 7512 URIs as ``--keys`` takes them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.hsm import PKCS11URI, KeyURIError, is_pkcs11_uri, parse_pkcs11_uri


def test_token_object_and_module() -> None:
    uri = parse_pkcs11_uri("pkcs11:token=Issuer%20A;object=emv_ac;type=secret-key"
                           "?module-path=/usr/lib/softhsm/libsofthsm2.so")
    assert uri == PKCS11URI("Issuer A", "emv_ac", "/usr/lib/softhsm/libsofthsm2.so")
    assert parse_pkcs11_uri("pkcs11:token=t;serial=1234") == PKCS11URI("t")


@pytest.mark.parametrize(("text", "message"), [
    ("pkcs11:object=k", "name the token"),
    ("pkcs11:token=t;token=u", "given twice"),
    ("pkcs11:token=t;object", "name=value"),
    ("pkcs11:token=t;type=private", "secret keys"),
    ("pkcs11:token=t?pin-value=1234", "PIN never"),
    ("pkcs11:token=%FF", "percent-encoded"),
    ("keys.json", "not a pkcs11"),
])
def test_bad_uris_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(KeyURIError, match=message):
        parse_pkcs11_uri(text)


def test_a_file_name_is_not_a_uri() -> None:
    assert not is_pkcs11_uri("keys.json") and is_pkcs11_uri("pkcs11:token=t")


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)


@given(_TEXT, st.none() | _TEXT, st.none() | _TEXT)
def test_str_and_parse_round_trip(token: str, obj: str | None, module: str | None) -> None:
    uri = PKCS11URI(token, obj, module)
    assert parse_pkcs11_uri(str(uri)) == uri
