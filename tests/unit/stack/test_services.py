"""Reading the state of a stack's containers from the engine (docker ps), as the health wait does."""
from types import SimpleNamespace

from dfr_deploy.stack import services


def test_engine_rows_carry_the_health_docker_ps_shows_in_the_status():
    lines = ["c1\todoo\trunning\tUp 3 seconds (health: starting)",
             "c2\tdb\trunning\tUp 2 minutes (healthy)",
             "c3\tnginx\trunning\tUp 1 second (unhealthy)",
             "c4\tbackup-exporter\trunning\tUp 5 minutes",
             "c5\todoo\texited\tExited (0) 2 hours ago",
             "not a row"]
    assert services.parse_engine_rows(lines) == [
        {"service": "odoo", "id": "c1", "state": "running", "health": "starting"},
        {"service": "db", "id": "c2", "state": "running", "health": "healthy"},
        {"service": "nginx", "id": "c3", "state": "running", "health": "unhealthy"},
        {"service": "backup-exporter", "id": "c4", "state": "running", "health": ""},
        {"service": "odoo", "id": "c5", "state": "exited", "health": ""}]


def test_containers_are_looked_up_by_compose_labels_newest_last(monkeypatch):
    asked = []

    class Ps:
        def __getitem__(self, args):
            asked.append(list(args))
            return SimpleNamespace(run=lambda timeout: (0, "new\todoo\trunning\tUp 1 second\n"
                                                           "old\todoo\trunning\tUp 2 hours\n", ""))

    monkeypatch.setattr(services.d, "docker", Ps)
    env = SimpleNamespace(project_name="dfrx-prod")
    assert services.containers(env, "odoo") == ["old", "new"]
    (args,) = asked
    filters = [args[i + 1] for i, arg in enumerate(args) if arg == "--filter"]
    assert filters == ["label=com.docker.compose.project=dfrx-prod", "label=com.docker.compose.oneoff=False",
                       "label=com.docker.compose.service=odoo"]
    assert "--all" not in args and "--no-trunc" in args
