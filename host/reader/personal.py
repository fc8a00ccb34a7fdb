"""The personal reader: bound one-to-one to a card, it authenticates with it before payment.

:class:`PersonalReader` holds the reader's key store and talks to the card through any
transport. :meth:`PersonalReader.open` runs the mutual authentication (READER
AUTHENTICATE, verify the card's cryptogram, READER CONFIRM); after it the application
takes payment commands in this selection. :func:`bind` and :func:`unbind` are what a
bank branch runs with the issuer's keys.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from apdu_specs.crypto.errors import MACError
from apdu_specs.payment.binding import NONCE_LENGTH, reader_proof, verify_card_proof
from apdu_specs.sw import SW

from .client import BindingClient, CardIdentity
from .errors import CardNotBoundHereError, CardProofError, PersonalModeError
from .issuer import BindingIssuer
from .keystore import ReaderKeyStore

__all__ = ["PersonalReader", "bind", "unbind"]


@dataclass
class PersonalReader:
    keys: ReaderKeyStore
    random: Callable[[int], bytes] = os.urandom

    @property
    def reader_id(self) -> bytes:
        return self.keys.reader_id

    def open(self, client: BindingClient, aid: bytes) -> CardIdentity:
        """Select ``aid`` and authenticate both ways; the card's identity once it has."""
        client.select(aid)
        card = client.identity()
        key = self.keys.key_for(card.card_id)
        if key is None:
            raise CardNotBoundHereError(f"card {card.masked} is not bound to reader "
                                        f"{self.reader_id.hex().upper()}")
        version = client.status().version
        reader_nonce = self.random(NONCE_LENGTH)
        card_nonce, proof = client.authenticate(self.reader_id, reader_nonce)
        try:
            verify_card_proof(version, key, self.reader_id, reader_nonce, card_nonce, proof)
        except MACError:
            raise CardProofError(f"card {card.masked} did not prove the binding key") from None
        answer = reader_proof(version, key, self.reader_id, card_nonce, reader_nonce)
        if client.confirm(answer) != SW.OK:
            raise PersonalModeError(f"card {card.masked} refused this reader's cryptogram")
        return card


def bind(client: BindingClient, aid: bytes, issuer: BindingIssuer, reader: PersonalReader,
         binding_key: bytes | None = None) -> CardIdentity:
    """Bind (or rebind) the application to ``reader``; its key store gets the key."""
    client.select(aid)
    card = client.identity()
    status = client.status()
    key = binding_key if binding_key is not None else reader.random(status.version.key_length)
    command = issuer.bind_command(card, status, client.get_challenge(), reader.reader_id, key)
    client.send_issuer_command(command, "BIND READER")
    reader.keys.put(card.card_id, key)
    return card


def unbind(client: BindingClient, aid: bytes, issuer: BindingIssuer,
           reader: PersonalReader | None = None) -> CardIdentity:
    """Remove the application's binding (a lost reader needs none: the issuer alone)."""
    client.select(aid)
    card = client.identity()
    command = issuer.unbind_command(card, client.status(), client.get_challenge())
    client.send_issuer_command(command, "UNBIND READER")
    if reader is not None:
        reader.keys.remove(card.card_id)
    return card
