"""EventLedger query (its service lands with a later issue)."""
