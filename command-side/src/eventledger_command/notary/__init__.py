"""The verifiable log: the Merkle tree of the global log and its signed tree heads (ADR 0025)."""
