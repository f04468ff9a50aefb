"""EventLedger query side: the read rows of PRODUCT.md §3, answered from the read models only."""
