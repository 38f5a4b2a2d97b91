"""Secrets sealed in the database: they open with the same key and purpose only."""

from __future__ import annotations

import pytest

from publisher.sealing import SealBroken, Sealer
from tests.support import SECRET

TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_a_sealed_secret_opens_with_its_key_and_purpose_only() -> None:
    sealer = Sealer(SECRET, "totp")
    sealed = sealer.seal(TOTP)
    assert sealed.startswith("v1.") and TOTP not in sealed and len(sealed) <= 200
    assert sealer.seal(TOTP) != sealed  # a fresh nonce each time
    assert sealer.open(sealed) == TOTP
    with pytest.raises(SealBroken):
        Sealer(SECRET, "other").open(sealed)
    with pytest.raises(SealBroken):
        Sealer("another secret key of at least thirty-two chars", "totp").open(sealed)
    altered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SealBroken):
        sealer.open(altered)
    with pytest.raises(SealBroken):
        sealer.open("v1.!!not base64")


def test_a_value_stored_before_sealing_reads_as_it_is() -> None:
    sealer = Sealer(SECRET, "totp")
    assert sealer.open(TOTP) == TOTP
    assert sealer.seal("") == "" and sealer.open("") == ""
    with pytest.raises(ValueError, match="at least 32"):
        Sealer("short", "totp")
