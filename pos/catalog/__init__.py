"""Counties, suppliers, certified products, certification import and traceability."""
