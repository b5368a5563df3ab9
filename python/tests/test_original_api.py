"""The original tool's Python API, run as its README and scripts call it."""

import json
import os
import subprocess

import pytest

import incident
from incident_manager import IncidentManager


def test_original_readme_snippet_verbatim(workdir):
    # The original README's example, unchanged.
    from incident_manager import IncidentManager
    manager = IncidentManager()
    incident_id = manager.create_incident(category="failure", priority="critical",
        title="データベース接続断", description="PostgreSQLへの接続が切断された",
        affected_components=["db_client", "worker_analytics"], impact="分析処理の停止")
    manager.resolve_incident(incident_id=incident_id, actions_taken=["接続プール再初期化", "タイムアウト値調整"],
        root_cause="接続プールの枯渇", preventive_measures=["接続プール監視追加"])

    assert (workdir / "incidents.redb").is_file()
    inc = manager.get_incident_by_id(incident_id)
    assert inc["incident_id"] == incident_id
    assert inc["status"] == "resolved"
    assert inc["assignee"] == "ai_system"
    assert inc["affected_components"] == ["db_client", "worker_analytics"]
    assert inc["resolution"]["actions_taken"] == ["接続プール再初期化", "タイムアウト値調整"]
    assert inc["resolution"]["root_cause"] == "接続プールの枯渇"
    assert inc["resolution"]["preventive_measures"] == ["接続プール監視追加"]
    # Naive local ISO times, as the original's datetime.now().isoformat() wrote them.
    from datetime import datetime
    assert datetime.fromisoformat(inc["timestamp"]) <= datetime.now()


def test_unknown_ids_keep_the_originals_false_and_none(workdir):
    m = IncidentManager()
    missing = "INC-20990101-0001"
    assert m.get_incident_by_id(missing) is None
    assert m.update_incident(missing, {"status": "in_progress"}) is False
    assert m.resolve_incident(missing, ["a"], "b") is False
    assert m.close(missing) is False
    assert m.reopen(missing) is False
    assert m.add_note(missing, "x") is False


def test_refusals_and_bad_input_raise_with_the_cli_messages(workdir, cli):
    m = IncidentManager()
    with pytest.raises(incident.InvalidInputError) as bad:
        m.create_incident("bug", "low", "t", "", ["c"], "")
    assert isinstance(bad.value, incident.IncidentError)
    iid = m.create_incident("error", "low", "t", "", ["c"], "")
    with pytest.raises(incident.RefusedError) as refused:
        m.close(iid)
    with pytest.raises(incident.InvalidInputError):
        m.update_incident(iid, {"colour": "red"})
    with pytest.raises(incident.InvalidInputError):
        m.get_incident_by_id("INC-1")
    m.release()
    out = subprocess.run([cli, "close", iid], capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.strip() == f"error: {refused.value}"


def test_update_list_and_lifecycle(workdir):
    with IncidentManager() as m:
        a = m.create_incident("failure", "high", "RabbitMQ接続断", "refused", ["rabbitmq"], "")
        b = m.create_incident("error", "low", "typo", "", ["web"], "", assignee=None)
        assert m.update_incident(a, {"status": "in_progress", "assignee": "tanaka",
                                     "affected_components": ["pm_worker"], "note": "調査中"})
        got = m.get_incident_by_id(a)
        assert got["status"] == "in_progress"
        assert got["assignee"] == "tanaka"
        assert got["affected_components"] == ["rabbitmq", "pm_worker"]
        assert any(e["action"] == "note" and e["details"] == "調査中" for e in got["timeline"])
        assert [i["incident_id"] for i in m.get_open_incidents()] == [b, a]
        assert [i["incident_id"] for i in m.get_open_incidents(category="failure")] == [a]
        assert [i["incident_id"] for i in m.list_incidents(component="pm_worker")] == [a]
        assert m.get_incident_by_id(b)["assignee"] is None
        assert m.resolve_incident(b, ["fixed typo"], "typo")
        assert m.close(b)
        assert m.reopen(b, note="again")
        assert m.add_note(b, "note")
        assert m.list_incidents(status="closed") == []
        assert len(m.list_incidents(all_statuses=True, origin="manual")) == 2


def test_python_and_cli_agree_on_one_file(workdir, cli):
    m = IncidentManager(str(workdir / "shared.redb"))
    iid = m.create_incident("failure", "critical", "データベース接続断", "d", ["db_client"], "停止")
    m.resolve_incident(iid, ["接続プール再初期化"], "接続プールの枯渇")
    m.release()
    env_db = ["--db", str(workdir / "shared.redb")]
    shown = json.loads(subprocess.run(
        [cli, *env_db, "show", iid, "--format", "json"], capture_output=True, text=True,
        check=True).stdout)
    assert shown["status"] == "resolved"
    assert shown["resolution"]["root_cause"] == "接続プールの枯渇"
    subprocess.run([cli, *env_db, "note", iid, "CLIから"], check=True, capture_output=True)
    subprocess.run([cli, *env_db, "close", iid], check=True, capture_output=True)
    m = IncidentManager(str(workdir / "shared.redb"))
    back = m.get_incident_by_id(iid)
    assert back["status"] == "closed"
    assert [e["details"] for e in back["timeline"] if e["action"] == "note"] == ["CLIから"]
    # While Python holds the file, the CLI waits, then says who has it.
    busy = subprocess.run([cli, *env_db, "list"], capture_output=True, text=True,
                          env={**os.environ, "INCIDENT_BUSY_TIMEOUT_MS": "300"})
    assert busy.returncode == 1
    assert "in use by another process" in busy.stderr
    m.release()
    cli_list = json.loads(subprocess.run(
        [cli, *env_db, "list", "--all", "--format", "json"], capture_output=True, text=True,
        check=True).stdout)
    assert [i["id"] for i in cli_list] == [iid]


def test_migrate_analyze_and_report(workdir, cli):
    subprocess.run([cli, "bridge", "generate", "3000", "--seed", "5", "-o", "eh.json"],
                   check=True, capture_output=True)
    with IncidentManager() as m:
        summary = m.migrate_error_history("eh.json")
        assert summary["records"] == 3000
        assert summary["migrated"] + summary["linked"] + summary["already_present"] <= 3000
        again = m.migrate_error_history("eh.json")
        assert again["migrated"] == 0
        analysis = m.analyze_patterns()
        assert set(analysis) >= {"most_common_category", "most_common_components",
                                 "recurring_issues", "avg_resolution_times",
                                 "recommendations", "patterns"}
        assert analysis["most_common_category"] == "error"
        assert analysis["patterns"]
        report = m.report()
        assert report["error_history"]["errors"] == 3000
        assert report["summary"]["incidents"] == 0
        assert m.generate_report().startswith("# Incident report")
        assert len(m.list_incidents(origin="migrated", all_statuses=True, limit=7)) == 7


def test_every_method_is_documented():
    for name in ["create_incident", "update_incident", "resolve_incident",
                 "get_open_incidents", "get_incident_by_id", "analyze_patterns",
                 "generate_report", "list_incidents", "migrate_error_history", "report",
                 "analyze", "close", "reopen", "add_note", "release"]:
        doc = getattr(IncidentManager, name).__doc__
        assert doc and len(doc.strip()) > 20, name
