"""The one command line of the read models: ``run|rebuild|status <name>``, dispatched through the registry."""

from __future__ import annotations

import dataclasses

import pytest

from eventledger_projections.__main__ import main
from eventledger_projections.bootstrap import PROJECTIONS
from eventledger_projections.rebuild.port import RebuildAlreadyRunning, RebuildListener, RebuildReport
from eventledger_runtime.settings import ProjectionSettings, Servers

REPORT = RebuildReport(
    read_model="postgres",
    version=3,
    where="read_model_v3",
    previous=2,
    events=1234,
    built_to=1300,
    seconds=2.5,
    skipped=1,
    dropped=("read_model_v1",),
)


def test_every_read_model_is_registered_with_its_own_ops_port() -> None:
    assert sorted(PROJECTIONS) == ["elasticsearch", "postgres", "redis"]
    assert len({spec.ops_port for spec in PROJECTIONS.values()}) == 3


@pytest.mark.parametrize("argv", [[], ["run"], ["run", "mongodb"], ["status", "nope"], ["rebuild", "postgres", "-x"]])
def test_a_wrong_command_line_is_a_usage_error(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2


def test_rebuild_runs_the_registered_rebuild_and_prints_its_report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[bool] = []

    def rebuild(
        settings: ProjectionSettings, infra: Servers, listener: RebuildListener, *, force: bool = False
    ) -> RebuildReport:
        calls.append(force)
        listener.planned(10)
        listener.replayed(10)
        return REPORT

    monkeypatch.setitem(PROJECTIONS, "postgres", dataclasses.replace(PROJECTIONS["postgres"], rebuild=rebuild))
    assert main(["rebuild", "postgres", "--force"]) == 0
    assert calls == [True]
    out, err = capsys.readouterr()
    assert out == (
        "rebuilt postgres: read_model_v3 from 1,234 events (1 skipped), live at position 1,300 after 2.5 s;"
        " replaced v2; dropped read_model_v1\n"
    )
    assert "100.0%" in err


def test_a_refused_rebuild_says_why_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def rebuild(
        settings: ProjectionSettings, infra: Servers, listener: RebuildListener, *, force: bool = False
    ) -> RebuildReport:
        raise RebuildAlreadyRunning("another rebuild holds el:rebuild-lock")

    monkeypatch.setitem(PROJECTIONS, "redis", dataclasses.replace(PROJECTIONS["redis"], rebuild=rebuild))
    assert main(["rebuild", "redis"]) == 1
    assert "not rebuilding redis: another rebuild holds el:rebuild-lock" in capsys.readouterr().err


def test_status_prints_the_registered_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def status(settings: ProjectionSettings, infra: Servers) -> dict[str, object]:
        return {"live version": 2, "partitions": ["t[0] next offset 5, reflects 9"]}

    monkeypatch.setitem(PROJECTIONS, "elasticsearch", dataclasses.replace(PROJECTIONS["elasticsearch"], status=status))
    assert main(["status", "elasticsearch"]) == 0
    assert capsys.readouterr().out == "live version: 2\npartitions:\n  t[0] next offset 5, reflects 9\n"
