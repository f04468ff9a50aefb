"""The search request: validation of each field, and the query it becomes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eventledger_projections.elasticsearch.search import MAX_LIMIT, TransferQuery

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": MAX_LIMIT + 1}, "limit"),
        ({"min_amount": -1}, "min_amount"),
        ({"min_amount": 10, "max_amount": 9}, "min_amount"),
        ({"created_from": FEB, "created_to": JAN}, "created_from"),
        ({"created_from": datetime(2026, 1, 1)}, "created_from"),
        ({"status": "settled"}, "status"),
        ({"currency": "EURO"}, "currency"),
    ],
)
def test_a_bad_field_is_named(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TransferQuery(**fields)  # type: ignore[arg-type]


def test_without_text_the_newest_come_first_and_filters_do_not_score() -> None:
    body = TransferQuery(currency="eur", min_amount=5, created_from=JAN, created_to=FEB).body()
    assert body["sort"] == [{"created_at": "desc"}, {"transfer_id": "asc"}]
    assert body["query"]["bool"]["must"] == []
    assert body["query"]["bool"]["filter"] == [
        {"term": {"currency": "EUR"}},
        {"range": {"amount": {"gte": 5}}},
        {"range": {"created_at": {"gte": JAN.isoformat(), "lt": FEB.isoformat()}}},
    ]
    assert body["track_total_hits"] is True
    assert set(body["aggs"]) == {"currency", "status"}


def test_text_searches_descriptions_and_names_together_best_first() -> None:
    body = TransferQuery(q="  ada rent ").body()
    [match] = body["query"]["bool"]["must"]
    assert match["multi_match"] == {
        "query": "ada rent",
        "type": "cross_fields",
        "fields": ["description", "holder_names"],
        "operator": "and",
    }
    assert body["sort"][0] == "_score"
