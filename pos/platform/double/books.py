"""The platform double's storage: an SQLite file of its own, apart from the POS database.

Documents are kept once per id; a delivery of a known id only counts the delivery. A reversal
or rating of a sale the double does not have is refused, as the platform refuses it.
Transaction amounts are stored signed (reversals negative), so daily totals are plain sums.
Rating documents are kept apart and count in no total; a rating shows as its highest revision
says. Calls block: the app runs them in a worker thread, one at a time.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from pos.platform.schemas import (
    BatchResult,
    DailyTotals,
    Document,
    RatingDoc,
    RatingWithdrawalDoc,
    Rejection,
    TransactionDoc,
)

__all__ = ["Counts", "PlatformBooks", "PlatformRating"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS txn (
    transaction_id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    business_day TEXT NOT NULL,
    amount_fen INTEGER NOT NULL,
    body TEXT NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 1,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS txn_day ON txn (merchant_id, business_day);
CREATE TABLE IF NOT EXISTS line (
    transaction_id TEXT NOT NULL,
    certificate_no TEXT NOT NULL,
    origin_county_code TEXT NOT NULL,
    supplier_code TEXT NOT NULL,
    amount_fen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS line_txn ON line (transaction_id);
CREATE TABLE IF NOT EXISTS rating_doc (
    document_id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    rating_id INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    rated_transaction_id TEXT NOT NULL,
    stars INTEGER,
    comment TEXT,
    body TEXT NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 1,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rating_doc_rating ON rating_doc (merchant_id, rating_id, revision);
"""

_TRANSACTIONS_SQL = (
    "SELECT transaction_id, amount_fen FROM txn WHERE merchant_id = ? AND business_day = ?"
)
_TOTALS_SQL = {
    "products": (
        "SELECT l.certificate_no, SUM(l.amount_fen) FROM line l"
        " JOIN txn t USING (transaction_id)"
        " WHERE t.merchant_id = ? AND t.business_day = ? GROUP BY l.certificate_no"
    ),
    "counties": (
        "SELECT l.origin_county_code, SUM(l.amount_fen) FROM line l"
        " JOIN txn t USING (transaction_id)"
        " WHERE t.merchant_id = ? AND t.business_day = ? GROUP BY l.origin_county_code"
    ),
    "suppliers": (
        "SELECT l.supplier_code, SUM(l.amount_fen) FROM line l"
        " JOIN txn t USING (transaction_id)"
        " WHERE t.merchant_id = ? AND t.business_day = ? GROUP BY l.supplier_code"
    ),
}


_RATINGS_SQL = """
SELECT r.merchant_id, r.rating_id, r.rated_transaction_id, r.kind = 'rating', r.stars, r.comment,
       g.documents, g.deliveries
FROM rating_doc r JOIN (
    SELECT merchant_id, rating_id, MAX(revision) AS latest, COUNT(*) AS documents,
           SUM(deliveries) AS deliveries
    FROM rating_doc GROUP BY merchant_id, rating_id
) g ON r.merchant_id = g.merchant_id AND r.rating_id = g.rating_id AND r.revision = g.latest
ORDER BY r.merchant_id, r.rating_id
"""


class Counts(BaseModel):
    """Transactions stored, and deliveries received for them (resends included); no ratings."""

    transactions: int
    deliveries: int


class PlatformRating(BaseModel):
    """A rating as the platform shows it: its document of the highest revision decides."""

    merchant_id: str
    rating_id: int
    transaction_id: str = Field(description="the rated sale")
    shown: bool
    stars: int | None = Field(description="None while withdrawn")
    comment: str | None
    documents: int = Field(description="distinct documents received: submission, moderations")
    deliveries: int = Field(description="requests that brought them, resends included")


class PlatformBooks:
    """What the double has received, in the SQLite file at `path`."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def record(self, merchant_id: str, docs: list[Document]) -> BatchResult:
        """Store the new documents of one signed batch; count resends of known ones."""
        result = BatchResult(accepted=[], duplicates=[], rejected=[])
        now = datetime.now(UTC).isoformat()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for doc in docs:
                    if reason := self._refusal(merchant_id, doc):
                        rejection = Rejection(transaction_id=doc.transaction_id, reason=reason)
                        result.rejected.append(rejection)
                    elif self._insert(doc, now):
                        result.accepted.append(doc.transaction_id)
                    else:
                        result.duplicates.append(doc.transaction_id)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return result

    def _refusal(self, merchant_id: str, doc: Document) -> str:
        """Why the platform refuses the document ("" if it does not): not the signer's, or about
        a sale it does not have (a sale earlier in the same batch counts).
        """
        if doc.merchant_id != merchant_id:
            return f"merchant {doc.merchant_id} is not the signer {merchant_id}"
        if doc.kind == "sale":
            return ""
        sale = self._db.execute(
            "SELECT 1 FROM txn WHERE transaction_id = ? AND kind = 'sale' AND merchant_id = ?",
            (doc.original_transaction_id, doc.merchant_id),
        ).fetchone()
        return "" if sale else f"no sale {doc.original_transaction_id} of merchant {merchant_id}"

    def _insert(self, doc: Document, now: str) -> bool:
        if isinstance(doc, TransactionDoc):
            return self._insert_transaction(doc, now)
        return self._insert_rating(doc, now)

    def _insert_transaction(self, doc: TransactionDoc, now: str) -> bool:
        sign = -1 if doc.kind == "reversal" else 1
        inserted = self._db.execute(
            "INSERT INTO txn (transaction_id, merchant_id, kind, business_day, amount_fen, body,"
            " received_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (transaction_id) DO NOTHING",
            (
                doc.transaction_id,
                doc.merchant_id,
                doc.kind,
                doc.business_day.isoformat(),
                sign * doc.amount_fen,
                doc.model_dump_json(),
                now,
            ),
        ).rowcount
        if not inserted:
            self._db.execute(
                "UPDATE txn SET deliveries = deliveries + 1 WHERE transaction_id = ?",
                (doc.transaction_id,),
            )
            return False
        self._db.executemany(
            "INSERT INTO line VALUES (?, ?, ?, ?, ?)",
            [
                (
                    doc.transaction_id,
                    line.certificate_no,
                    line.origin_county_code,
                    line.supplier_code,
                    sign * line.amount_fen,
                )
                for line in doc.lines
            ],
        )
        return True

    def _insert_rating(self, doc: RatingDoc | RatingWithdrawalDoc, now: str) -> bool:
        stars, comment = (doc.stars, doc.comment) if isinstance(doc, RatingDoc) else (None, None)
        inserted = self._db.execute(
            "INSERT INTO rating_doc (document_id, merchant_id, kind, rating_id, revision,"
            " rated_transaction_id, stars, comment, body, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (document_id) DO NOTHING",
            (
                doc.transaction_id,
                doc.merchant_id,
                doc.kind,
                doc.rating_id,
                doc.revision,
                doc.original_transaction_id,
                stars,
                comment,
                doc.model_dump_json(),
                now,
            ),
        ).rowcount
        if not inserted:
            self._db.execute(
                "UPDATE rating_doc SET deliveries = deliveries + 1 WHERE document_id = ?",
                (doc.transaction_id,),
            )
        return bool(inserted)

    def daily_totals(self, merchant_id: str, day: date) -> DailyTotals:
        """Net fen of the merchant's day per transaction, product, county and supplier."""
        params = (merchant_id, day.isoformat())
        with self._lock:
            transactions = self._db.execute(_TRANSACTIONS_SQL, params).fetchall()
            totals = {
                name: self._db.execute(sql, params).fetchall() for name, sql in _TOTALS_SQL.items()
            }
        return DailyTotals(
            transactions=dict(transactions), **{name: dict(rows) for name, rows in totals.items()}
        )

    def delete(self, transaction_id: str) -> bool:
        """Forget a document, as if it had never arrived; False if it was not there."""
        with self._lock:
            self._db.execute("DELETE FROM line WHERE transaction_id = ?", (transaction_id,))
            gone = self._db.execute("DELETE FROM txn WHERE transaction_id = ?", (transaction_id,))
            rating = self._db.execute(
                "DELETE FROM rating_doc WHERE document_id = ?", (transaction_id,)
            )
            return gone.rowcount + rating.rowcount > 0

    def deliveries(self, transaction_id: str) -> int:
        """How many times the document arrived (0: never, or deleted)."""
        with self._lock:
            row = self._db.execute(
                "SELECT deliveries FROM txn WHERE transaction_id = ?"
                " UNION ALL SELECT deliveries FROM rating_doc WHERE document_id = ?",
                (transaction_id, transaction_id),
            ).fetchone()
        return int(row[0]) if row else 0

    def ratings(self) -> list[PlatformRating]:
        """Every rating received, as the platform shows it now."""
        with self._lock:
            rows = self._db.execute(_RATINGS_SQL).fetchall()
        return [
            PlatformRating(**dict(zip(PlatformRating.model_fields, row, strict=True)))
            for row in rows
        ]

    def counts(self) -> Counts:
        """How many transactions are stored and how many deliveries brought them."""
        with self._lock:
            stored, deliveries = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(deliveries), 0) FROM txn"
            ).fetchone()
        return Counts(transactions=stored, deliveries=deliveries)
