"""The command service's HTTP API (FastAPI): the command rows of PRODUCT.md §3, behind the gateway."""
