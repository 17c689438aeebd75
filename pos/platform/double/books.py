"""The platform double's storage: an SQLite file of its own, apart from the POS database.

Transactions are kept once per transaction id; a delivery of a known id only counts the
delivery. Amounts are stored signed (reversals negative), so daily totals are plain sums.
Calls block: the app runs them in a worker thread, one at a time.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import BaseModel

from pos.platform.schemas import BatchResult, DailyTotals, Rejection, TransactionDoc

__all__ = ["Counts", "PlatformBooks"]

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


class Counts(BaseModel):
    """Transactions stored, and deliveries received for them (resends included)."""

    transactions: int
    deliveries: int


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

    def record(self, merchant_id: str, docs: list[TransactionDoc]) -> BatchResult:
        """Store the new transactions of one signed batch; count resends of known ones."""
        result = BatchResult(accepted=[], duplicates=[], rejected=[])
        now = datetime.now(UTC).isoformat()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for doc in docs:
                    if doc.merchant_id != merchant_id:
                        reason = f"merchant {doc.merchant_id} is not the signer {merchant_id}"
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

    def _insert(self, doc: TransactionDoc, now: str) -> bool:
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
        """Forget a transaction, as if it had never arrived; False if it was not there."""
        with self._lock:
            self._db.execute("DELETE FROM line WHERE transaction_id = ?", (transaction_id,))
            gone = self._db.execute("DELETE FROM txn WHERE transaction_id = ?", (transaction_id,))
            return gone.rowcount > 0

    def deliveries(self, transaction_id: str) -> int:
        """How many times the transaction arrived (0: never, or deleted)."""
        with self._lock:
            row = self._db.execute(
                "SELECT deliveries FROM txn WHERE transaction_id = ?", (transaction_id,)
            ).fetchone()
        return int(row[0]) if row else 0

    def counts(self) -> Counts:
        """How many transactions are stored and how many deliveries brought them."""
        with self._lock:
            stored, deliveries = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(deliveries), 0) FROM txn"
            ).fetchone()
        return Counts(transactions=stored, deliveries=deliveries)
