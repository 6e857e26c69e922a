"""The bootstrap's script (infra/bootstrap.py) run by a real `sh` and `psql` against a throwaway local PostgreSQL,
logged in as a master like RDS's: not a superuser, CREATEROLE, owner of the database.

Skipped where no local PostgreSQL server binaries exist (`initdb`, `pg_ctl`, `postgres`, `psql` on PATH).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.bootstrap import APP_USER, APP_USER_CLONE, BOOTSTRAP_SQL, OWNER_ROLE, PSQL_SCRIPT

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("initdb", "pg_ctl", "postgres", "psql")),
    reason="no local PostgreSQL server binaries")

MASTER = "tcaadmin"
MASTER_PASSWORD = "master-Password-0123456789"
DB = "tca"
# What GetRandomPassword may return under the stack's exclusions: shell and SQL metacharacters included.
FIRST = "Q7v!x9#K$HOME`id`;p2-Lm4^Zr8~Tw6.Yb3:Nc5=D%&*()<>|?"
SECOND = "second-Password-$(id)-0123456789abcdef"
CLONE = "clone-Password-0123456789abcdefgh"


class Server:
    def __init__(self, socket_dir: str, as_owner: Callable[[list[str]], list[str]]):
        self.socket_dir = socket_dir
        self.as_owner = as_owner

    def env(self, **extra: str) -> dict[str, str]:
        return {"PATH": os.environ["PATH"], "PGHOST": self.socket_dir, "PGDATABASE": DB,
                "PGCONNECT_TIMEOUT": "10", **extra}

    def superuser(self, sql: str) -> str:
        done = subprocess.run(self.as_owner(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", self.socket_dir,
                                             "-U", "postgres", "-d", DB, "-c", sql]),
                              capture_output=True, text=True, check=True)
        return done.stdout.strip()

    def bootstrap(self, credential: dict[str, str]) -> subprocess.CompletedProcess[str]:
        """The task's command, with the environment and secrets ECS would give it."""
        env = self.env(BOOTSTRAP_SQL=BOOTSTRAP_SQL, PGUSER=MASTER, PGPASSWORD=MASTER_PASSWORD,
                       APP_CREDENTIAL=json.dumps({"engine": "postgres", "host": "localhost", "port": 5432,
                                                  "dbname": DB, **credential}))
        return subprocess.run(["sh", "-c", PSQL_SCRIPT], env=env, capture_output=True, text=True, check=False)

    def login(self, user: str, password: str) -> str | None:
        """`session_user/role` of a session logged in with this password; None if the login is refused."""
        done = subprocess.run(["psql", "-X", "-tA", "-U", user, "-c",
                               "SELECT session_user || '/' || current_setting('role')"],
                              env=self.env(PGPASSWORD=password), capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else None


def _as_owner(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _start_server(root: Path) -> Server:
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    subprocess.run(_as_owner(["initdb", "-D", str(data), "-U", "postgres", "-N", "--auth-local=trust",
                              "--auth-host=reject"]), capture_output=True, check=True)
    # Everyone but the cluster's own superuser logs in with a password, as on RDS.
    (data / "pg_hba.conf").write_text("local all postgres trust\nlocal all all scram-sha-256\n")
    subprocess.run(_as_owner(["pg_ctl", "-D", str(data), "-w", "-l", str(root / "log"), "-o",
                              f"-c listen_addresses='' -c unix_socket_directories={sockets} -c fsync=off", "start"]),
                   capture_output=True, check=True)
    subprocess.run(_as_owner(["psql", "-X", "-q", "-h", str(sockets), "-U", "postgres", "-d", "postgres",
                              "-v", "ON_ERROR_STOP=1",
                              "-c", f"CREATE ROLE {MASTER} LOGIN CREATEROLE PASSWORD '{MASTER_PASSWORD}'",
                              "-c", f"CREATE DATABASE {DB} OWNER {MASTER}"]), capture_output=True, check=True)
    return Server(str(sockets), _as_owner)


def _stop_server(root: Path) -> None:
    subprocess.run(_as_owner(["pg_ctl", "-D", str(root / "data"), "-m", "immediate", "stop"]), capture_output=True,
                   check=False)
    shutil.rmtree(root, ignore_errors=True)


# The server starts in the background when this module is collected (initdb takes about a second), so it is
# ready by the time the modules before this one have run; stopped when the test process exits.
_ROOT: Path | None = None
_STARTING: concurrent.futures.Future[Server] | None = None
if all(shutil.which(tool) for tool in ("initdb", "pg_ctl", "postgres", "psql")):
    _ROOT = Path(tempfile.mkdtemp(prefix="tca-bootstrap-sql-"))
    _STARTING = concurrent.futures.ThreadPoolExecutor(max_workers=1).submit(_start_server, _ROOT)
    atexit.register(_stop_server, _ROOT)


@pytest.fixture(scope="module")
def server() -> Server:
    assert _STARTING is not None
    return _STARTING.result(timeout=120)


@pytest.fixture
def db(server: Server) -> Server:
    """A database with none of the app's roles (as before the first bootstrap)."""
    server.superuser(f"""DROP TABLE IF EXISTS public.tasks;
DO $$BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN DROP OWNED BY {OWNER_ROLE}; END IF;
END$$;
DROP ROLE IF EXISTS {APP_USER}, {APP_USER_CLONE}, {OWNER_ROLE};
ALTER ROLE {MASTER} PASSWORD '{MASTER_PASSWORD}';""")
    return server


def _roles(db: Server) -> str:
    return db.superuser("SELECT string_agg(rolname, ',' ORDER BY rolname COLLATE \"C\") FROM pg_roles "
                        "WHERE rolname LIKE 'tca%'")


def test_a_new_database_gets_both_users_and_the_current_one_logs_in_as_the_owner_role(db):
    done = db.bootstrap({"username": APP_USER, "password": FIRST})
    assert done.returncode == 0, done.stderr
    assert db.login(APP_USER, FIRST) == f"{APP_USER}/{OWNER_ROLE}"
    assert _roles(db) == f"{APP_USER},{APP_USER_CLONE},{OWNER_ROLE},{MASTER}"
    # The other user has no password until the first rotation gives it one.
    assert db.superuser(f"SELECT rolcanlogin, rolpassword IS NULL FROM pg_authid WHERE rolname = '{APP_USER_CLONE}'") \
        == "t|t"


def test_the_bootstrap_runs_again_unchanged_and_the_login_still_works(db):
    for _ in range(2):
        done = db.bootstrap({"username": APP_USER, "password": FIRST})
        assert done.returncode == 0, done.stderr
    assert db.login(APP_USER, FIRST) == f"{APP_USER}/{OWNER_ROLE}"


def test_a_credential_written_again_with_a_new_password_is_what_the_current_user_logs_in_with(db):
    # A re-created secret or a restored snapshot: the roles exist with a password the credential no longer holds.
    assert db.bootstrap({"username": APP_USER, "password": FIRST}).returncode == 0
    done = db.bootstrap({"username": APP_USER, "password": SECOND})
    assert done.returncode == 0, done.stderr
    assert db.login(APP_USER, SECOND) == f"{APP_USER}/{OWNER_ROLE}"
    assert db.login(APP_USER, FIRST) is None


def test_the_other_users_password_is_never_touched(db):
    assert db.bootstrap({"username": APP_USER, "password": FIRST}).returncode == 0
    db.superuser(f"ALTER ROLE {APP_USER_CLONE} PASSWORD '{CLONE}'")  # what a rotation gave it
    done = db.bootstrap({"username": APP_USER, "password": SECOND})
    assert done.returncode == 0, done.stderr
    assert db.login(APP_USER_CLONE, CLONE) == f"{APP_USER_CLONE}/{OWNER_ROLE}"


def test_a_credential_naming_the_clone_sets_only_the_clones_password(db):
    assert db.bootstrap({"username": APP_USER, "password": FIRST}).returncode == 0
    done = db.bootstrap({"username": APP_USER_CLONE, "password": SECOND})
    assert done.returncode == 0, done.stderr
    assert db.login(APP_USER_CLONE, SECOND) == f"{APP_USER_CLONE}/{OWNER_ROLE}"
    assert db.login(APP_USER, FIRST) == f"{APP_USER}/{OWNER_ROLE}"


@pytest.mark.parametrize("credential", [{"username": MASTER, "password": SECOND},
                                        {"username": APP_USER, "password": ""},
                                        {"username": APP_USER}])
def test_a_credential_naming_another_user_or_without_a_password_stops_before_any_change(db, credential):
    done = db.bootstrap(credential)
    assert done.returncode == 3
    assert "the app credential must name tca_app or tca_app_clone and carry a password" in done.stderr
    assert SECOND not in done.stderr + done.stdout
    assert _roles(db) == MASTER
    assert db.login(MASTER, MASTER_PASSWORD) == f"{MASTER}/none"


def test_a_tasks_table_the_master_created_is_handed_to_the_owner_role(db):
    db.superuser(f"CREATE TABLE public.tasks (id int); ALTER TABLE public.tasks OWNER TO {MASTER}")
    assert db.bootstrap({"username": APP_USER, "password": FIRST}).returncode == 0
    assert db.superuser("SELECT tableowner FROM pg_tables WHERE tablename = 'tasks'") == OWNER_ROLE
