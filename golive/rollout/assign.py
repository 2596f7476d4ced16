"""Who gets Customer.io at a stage: the checklist's `shouldUseCio`, bit for bit, and the stage's meaning.

The seed's TypeScript:

    const hash = createHash("md5").update(userId).digest("hex");
    const bucket = parseInt(hash.substring(0, 8), 16) % 100;
    return bucket < rolloutPercent;

The first 8 hex digits of the digest are its first 4 bytes read big-endian, so the bucket is taken
from the raw digest without formatting or parsing text: this sits in request paths, and the hash
is the floor (bench/rollout.py holds it within 1.6x of a bare md5 digest).

Node hashes a string as UTF-8, except that a surrogate not paired in UTF-16 becomes U+FFFD; Python
refuses to encode one, so such ids take a slower path that does what Node does.
"""

from __future__ import annotations

import struct
from hashlib import md5

from checklist.plan import Plan

_FIRST_WORD = struct.Struct(">I").unpack_from
_DEFAULT_PLAN = Plan()


def _node_utf8(user_id: str) -> bytes:
    # Through UTF-16, as a JavaScript string is: a pair of surrogate code points becomes the
    # character it encodes, a lone one becomes U+FFFD; both as Node's Buffer.from(string) does.
    return user_id.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace").encode()


def bucket(user_id: str) -> int:
    """The user's bucket, 0-99: `parseInt(md5hex.substring(0, 8), 16) % 100`."""
    try:
        data = user_id.encode()
    except UnicodeEncodeError:
        data = _node_utf8(user_id)
    return _FIRST_WORD(md5(data).digest())[0] % 100


def should_use_cio(user_id: str, percent: float) -> bool:
    """True when the user is in the first `percent` of 100 buckets; the same answer as the seed's
    TypeScript for every string (0 enables nobody, 100 everybody, a fraction compares as in JS)."""
    try:
        data = user_id.encode()
    except UnicodeEncodeError:
        data = _node_utf8(user_id)
    # Inlined rather than a call to bucket(): a Python call costs as much as a third of the hash.
    return _FIRST_WORD(md5(data).digest())[0] % 100 < percent


def is_internal(user_id: str, plan: Plan, email: str | None = None) -> bool:
    """On the plan's allowlist: by user id, or by the domain of the user's e-mail address."""
    if user_id in plan.internal_user_ids:
        return True
    if email and plan.internal_domains:
        domain = email.rpartition("@")[2].strip().lower().rstrip(".")
        return domain in plan.internal_domains
    return False


def enabled_for(user_id: str, stage: str, plan: Plan | None = None, *, email: str | None = None) -> bool:
    """Whether a user gets Customer.io while the flag holds `stage`.

    `0`: nobody. `internal`: only the allowlist (`internalUserIds`, `internalDomains`). A percentage:
    the allowlist and `should_use_cio(user_id, percent)`; the internal team that went first stays on.
    A value that is not a stage of the plan enables nobody: a broken flag fails closed, and
    `golive rollout status` and `golive audit` report it.
    """
    plan = plan or _DEFAULT_PLAN
    if stage not in plan.stages or stage == plan.stages[0]:
        return False
    if is_internal(user_id, plan, email):
        return True
    return stage.isdigit() and should_use_cio(user_id, int(stage))
