"""Opt-in membership: a shopper links the payment account of an order to their phone number.

The number is kept only as HMAC-SHA256 under the server's secret key, so the table cannot be
turned back into phone numbers without the key. Every payer id hash linked to one member counts
as one buyer from then on, for all of their purchases, earlier ones included.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from pos.analytics.rollups import refresh_buyer
from pos.analytics.schemas import MembershipIn, MembershipOut
from pos.analytics.sql import serialize_writers
from pos.analytics.tables import Member, PayerLink
from pos.db import write_transaction
from pos.errors import Conflict, InvalidInput
from pos.orders import service as orders
from pos.orders.tables import Order

__all__ = ["join", "phone_hash"]

# A mainland mobile number, after China's country code written as +86, 0086 or 86 (or none),
# between separators people type: spaces, hyphens, dots and brackets.
_MOBILE = re.compile(r"(?:(?:\+|00)?86)?(1[3-9][0-9]{9})")
_SEPARATORS = re.compile(r"[\s\-.()]")


def phone_hash(secret: str, phone: str) -> str:
    """The keyed hash a mobile number is known by; +86 138-0013-8000, 0086-13800138000 and
    13800138000 agree. Anything else is refused (InvalidInput invalid_phone).
    """
    number = _MOBILE.fullmatch(_SEPARATORS.sub("", phone))
    if number is None:
        raise InvalidInput(
            "this is not a mainland mobile number (11 digits starting with 1)",
            code="invalid_phone",
        )
    return hmac.new(secret.encode(), number.group(1).encode(), hashlib.sha256).hexdigest()


async def join(order_id: int, token: str, data: MembershipIn, *, secret: str) -> MembershipOut:
    """Link the payer of the order (its access token holder) to the member with this phone."""
    await orders.check_access(order_id, token)
    order = await Order.select(Order.payer_hash).where(Order.id == order_id).first()
    payer = order["payer_hash"] if order else None
    if not payer:
        raise Conflict("this order has no payment account to link", code="no_payer")
    key = phone_hash(secret, data.phone)
    async with write_transaction():
        await serialize_writers()
        member = await Member.objects().get_or_create(Member.phone_hash == key)
        link = await PayerLink.select(PayerLink.member).where(PayerLink.payer_hash == payer)
        if link and link[0]["member"] != member.id:
            raise Conflict("this payment account belongs to another member", code="payer_linked")
        if not link:
            await PayerLink.insert(PayerLink(payer_hash=payer, member=member.id))
            await refresh_buyer(f"payer:{payer}")
            await refresh_buyer(f"member:{member.id}")
        linked = await PayerLink.count().where(PayerLink.member == member.id)
    return MembershipOut(linked_payers=linked)
