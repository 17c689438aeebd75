"""Rating documents built from the rating events (pure).

A rating is forwarded only when its line was certified at the sale: the platform knows a sale by
its certified lines alone, so that is all a rating can be attached to (docs/platform.md). Each
document has an id of its own, so the platform dedupes resends; all documents of one rating
share `rating_id`, and the one with the highest `revision` says whether the platform shows it
(submission 0, then the moderation's number), whatever order they arrive in.
"""

from __future__ import annotations

from datetime import date

from pos.platform.schemas import RatingDoc, RatingEvent, RatingWithdrawalDoc, TransactionDoc

__all__ = ["rating_document", "rating_document_id"]


def rating_document_id(merchant_id: str, rating_id: int, moderation_id: int | None) -> str:
    """The stable id of a rating's submission (no moderation) or of one of its moderations."""
    submitted = f"{merchant_id}-E{rating_id}"
    return submitted if moderation_id is None else f"{submitted}-M{moderation_id}"


def rating_document(
    rating: RatingEvent, sale: TransactionDoc, business_day: date
) -> RatingDoc | RatingWithdrawalDoc:
    """The document of a submitted or moderated rating of a line of `sale`, on the store-local
    `business_day` it happened.
    """
    withdrawal = RatingWithdrawalDoc(
        kind="rating_withdrawal",
        transaction_id=rating_document_id(sale.merchant_id, rating.rating_id, rating.moderation_id),
        original_transaction_id=sale.transaction_id,
        merchant_id=sale.merchant_id,
        rating_id=rating.rating_id,
        revision=rating.moderation_id or 0,
        occurred_at=rating.occurred_at,
        business_day=business_day,
        line_no=rating.line_no,
        certificate_no=rating.certificate_no,
    )
    if rating.hidden:
        return withdrawal
    return RatingDoc(
        **withdrawal.model_dump(exclude={"kind"}),
        kind="rating",
        stars=rating.stars,
        comment=rating.comment,
    )
