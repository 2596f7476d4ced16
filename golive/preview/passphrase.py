"""`secure:` config values of a passphrase-protected stack, decrypted as the Pulumi CLI does.

A stack created with `--secrets-provider passphrase` (the default off Pulumi Cloud) keeps
`encryptionsalt: v1:<salt>:v1:<nonce>:<ciphertext of "pulumi">` in Pulumi.<stack>.yaml, and each
secret as `secure: v1:<nonce>:<ciphertext>`: AES-256-GCM under a key drawn from the passphrase by
PBKDF2-HMAC-SHA256, 1,000,000 rounds, 32 bytes (pkg/secrets/passphrase/manager.go and
sdk/go/common/resource/config/crypt.go). The passphrase comes, as for the CLI, from
PULUMI_CONFIG_PASSPHRASE or the file PULUMI_CONFIG_PASSPHRASE_FILE names. Without one, or for any
other secrets provider, golive cannot decrypt and the program gets a placeholder instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from golive.errors import GoliveError

ROUNDS = 1_000_000
_CHECK = "pulumi"

Decrypt = Callable[[str, str], str]  # (ciphertext, where) -> plaintext


class PassphraseError(GoliveError):
    """The passphrase is wrong or a secure value is damaged; never carries a value."""


def _passphrase(env: Mapping[str, str]) -> str | None:
    if "PULUMI_CONFIG_PASSPHRASE" in env:
        return env["PULUMI_CONFIG_PASSPHRASE"]
    path = env.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise PassphraseError(f"PULUMI_CONFIG_PASSPHRASE_FILE {path}: {err.strerror or err}") from None
    return None


def _open(key: bytes, ciphertext: str) -> str | None:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    parts = ciphertext.split(":")
    if len(parts) != 3 or parts[0] != "v1":
        return None
    try:
        nonce, sealed = base64.b64decode(parts[1], validate=True), base64.b64decode(parts[2], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(nonce) != 12:
        return None
    try:
        return AESGCM(key).decrypt(nonce, sealed, None).decode("utf-8")
    except (InvalidTag, UnicodeDecodeError):
        return None


def decrypter(encryption_salt: str, where: str, env: Mapping[str, str] | None = None) -> Decrypt | None:
    """A decrypter for the stack's `encryptionsalt`, or None when no passphrase is set."""
    phrase = _passphrase(os.environ if env is None else env)
    if phrase is None:
        return None
    parts = encryption_salt.split(":", 2)
    if len(parts) != 3 or parts[0] != "v1":
        raise PassphraseError(f"{where}: encryptionsalt is not a v1 passphrase state")
    try:
        salt = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise PassphraseError(f"{where}: encryptionsalt has a salt that is not base64") from None
    key = hashlib.pbkdf2_hmac("sha256", phrase.encode("utf-8"), salt, ROUNDS, 32)
    if _open(key, parts[2]) != _CHECK:
        raise PassphraseError(f"{where}: incorrect passphrase (PULUMI_CONFIG_PASSPHRASE or "
                              "PULUMI_CONFIG_PASSPHRASE_FILE) for this stack")

    def decrypt(ciphertext: str, at: str) -> str:
        plain = _open(key, ciphertext)
        if plain is None:
            raise PassphraseError(f"{at}: the secure value does not decrypt with this stack's passphrase")
        return plain

    return decrypt


def encrypt_for_tests(phrase: str, values: list[str], *, salt: bytes = b"golive!!") -> tuple[str, list[str]]:
    """An `encryptionsalt` and `secure:` ciphertexts as `pulumi config set --secret` writes them.

    For tests and examples only: the nonce is random, as the CLI's is."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = hashlib.pbkdf2_hmac("sha256", phrase.encode("utf-8"), salt, ROUNDS, 32)

    def seal(text: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, text.encode("utf-8"), None)
        return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"

    state = f"v1:{base64.b64encode(salt).decode()}:{seal(_CHECK)}"
    return state, [seal(v) for v in values]
