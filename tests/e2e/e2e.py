"""End-to-end test: the bundle that mlflow-stack generates really runs an MLflow server.

Started by tests/e2e/run.sh (which fetches PostgreSQL and makes the .venv-e2e this runs in).
Without Kubernetes or Google Cloud, the suite plays the parts they would play:

* PostgreSQL, a throwaway cluster in a temp dir, listens on 127.0.0.1:5432, where the
  Cloud SQL Auth Proxy sidecar would listen in the pod (the sidecar itself is not run).
  Its major version is the bundle's Cloud SQL instance's (17 by default; run.sh pins the
  binaries), since role membership, which the login-switch scenario relies on, changed
  in PostgreSQL 16.
* gcp-storage-emulator stands in for Cloud Storage; only STORAGE_EMULATOR_HOST is added
  to the environment of the server (and of the client when it writes to the bucket).
* A small "kubelet" (class Pod) reads kubernetes/deployment.yaml and runs the init
  containers (in as many pods at once as the Deployment has replicas, as on a first
  install), then the `mlflow` container, with their command and args exactly as
  generated: environment from value / configMapKeyRef / secretKeyRef / envFrom plus the
  Service's link variables, $(VAR) expanded as the kubelet does, volumes materialised in
  a temp dir, the pod's runAsUser, probes on the schedule the YAML gives, preStop and
  SIGTERM on stop.

Each scenario then checks, against the running server: the Host headers users will send
are served and an unknown one is refused; examples/train.py logs a run; the run, its
params and metrics are in the REST API; the model's files are in the bucket under the
artifact location the bundle names and load back; the server's processes fit the
container's memory limit.

Scenarios: the main stack (with a restart on the same database), the same stack with a
database password full of URL-special characters, serve_artifacts = false (the client
writes to the bucket itself; its [gc] collector deletes in the bucket too), IAM database
auth (a user name with '@'), operations (metrics = true and a [gc] table: /metrics
counts requests from its emptyDir multiprocess files; the CronJob's `mlflow gc` container,
run as generated with the Service's DNS name resolved to the server, removes a deleted
run's rows and artifacts and keeps a live one), a switch of database.auth from password
to iam and back on one database (login-switch), MLflow's basic-auth app with
default_permission = "READ" run as two replicas (see check_basic_auth), an upgrade
from the previous minor MLflow release while a client writes throughout (upgrade), and
the front door (front-door): the server behind a gateway with basic auth, opened in
headless Chromium (Debian's, driven by Playwright) through https://FRONT_DOOR_HOST,
where the UI creates and renames an experiment, an idle connection is reused as Google's
load balancers reuse theirs, and a 200 MB artifact goes up and comes back through the
artifact proxy; a control without the bundle's --cors-allowed-origins and --uvicorn-opts
fails both; and IAP (iap, see run_iap): an iap stack's server as generated, trusting only
a stand-in IAP's test key, refuses every request without a valid signed assertion, makes
the verified e-mail the MLflow user under MLflow's permissions, and keeps a client with the
package of client/ signed in past its 20-second tokens. Every
process started here is killed at the end, whatever happens. Exit status 0 only when
every scenario passed.
"""

import argparse
import asyncio
import configparser
import copy
import functools
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import tomllib
import traceback
import urllib.parse
from pathlib import Path

import psycopg2
import psycopg2.errors
import requests
import yaml
from psycopg2 import sql

import iap_standin

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent  # .venv-e2e/bin: this script runs in the e2e venv
TRAIN_SCRIPT = REPO / "examples" / "train.py"
LOAD_MODEL_SCRIPT = Path(__file__).resolve().parent / "load_model.py"
GC_RUNS_SCRIPT = Path(__file__).resolve().parent / "gc_runs.py"
PINS_MATCH_SCRIPT = Path(__file__).resolve().parent / "pins_match.py"
WRITER_SCRIPT = Path(__file__).resolve().parent / "writer.py"
# The upgrade scenario starts from the same stack at the previous minor MLflow release
# (run.sh installs it into .venv-e2e-previous) and upgrades to the stack's own version.
PREVIOUS_MLFLOW = "3.16.1"
UPGRADE_WRITES = 10  # successful writes before the upgrade, and again after it

POSTGRES_HOST = "127.0.0.1"
POSTGRES_PORT = 5432  # where the Cloud SQL Auth Proxy listens in the pod
POSTGRES_SUPERUSER_PASSWORD = "e2e-superuser"
PLAIN_DB_PASSWORD = "e2e-db-password"
SPECIAL_DB_PASSWORD = "p@ss:w/rd%?#&"
FAKE_POD_IP = "10.244.0.17"  # the kubelet probes with Host: <pod IP>:<port>
FAKE_CLUSTER_IP = "10.96.0.10"  # only ever written into service-link env vars, never contacted
REFUSED_HOSTS = ["evil.example.com", "evil.example.com:8080"]
HOST_CHECK_PATH = "/api/2.0/mlflow/experiments/search?max_results=1"  # /health is exempt from host checks

SUITE_DEADLINE_SECONDS = 2700  # hard limit for all scenarios together (ten of them)
READINESS_TIMEOUT_SECONDS = 240  # hard limit for one server to become ready, whatever the probe says
INIT_CONTAINER_TIMEOUT_SECONDS = 240
TRAIN_TIMEOUT_SECONDS = 180
DEFAULT_TERMINATION_GRACE_SECONDS = 30


# The front-door scenario: the server behind a gateway (HTTPS for FRONT_DOOR_HOST), with
# basic auth, opened in a real browser.
FRONT_DOOR_HOST = "mlflow.e2e.example"
CHROMIUM = "/usr/bin/chromium"  # Debian's package, which run.sh installs
IDLE_SECONDS = 8  # longer than uvicorn's default keep-alive (5 s)
BIG_ARTIFACT_BYTES = 200 * 2**20
BROWSER_TIMEOUT_MS = 60_000


class Failure(Exception):
    """A check failed; the message says what was expected and what happened."""


class Interrupted(BaseException):
    """SIGTERM/SIGINT/SIGHUP arrived: unwind so that every process gets cleaned up."""


def on_signal(signum, _frame):
    raise Interrupted(f"received signal {signum}")


def log_tail(path, lines=40):
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


def wait_until(description, timeout, condition, interval=0.5):
    """Poll condition() until it returns a true value, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Failure(f"timed out after {timeout} s waiting for {description}")
        time.sleep(interval)


def port_is_open(host, port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_quantity(quantity):
    """A Kubernetes quantity ("512Mi", "1Gi", "500m", "1e3") as a float in base units."""
    text = str(quantity).strip()
    binary = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
    decimal = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
    for suffix, factor in binary.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    if text[-1] in decimal:
        return float(text[:-1]) * decimal[text[-1]]
    return float(text)


def mib(n_bytes):
    return f"{n_bytes / 2**20:.0f} MiB"


# --------------------------------------------------------------------------- processes


class Processes:
    """Every long-running process of the suite, each started in its own process group.

    The group ids are also appended to `pgid_file`, so that run.sh can kill what is
    left even if this Python process itself is killed with SIGKILL.
    """

    def __init__(self, pgid_file):
        self.running = []
        self.pgid_file = pgid_file

    def start(self, argv, *, log_path, env, cwd, user=None, group=None, extra_groups=None):
        log = open(log_path, "ab")
        try:
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
                group=group,
                extra_groups=extra_groups,
            )
        finally:
            log.close()
        proc.log_path = log_path
        self.running.append(proc)
        if self.pgid_file:
            with open(self.pgid_file, "a") as f:
                f.write(f"{proc.pid}\n")
        return proc

    def run(self, argv, *, log_path, env, cwd, timeout):
        """Run a command to completion (output to log_path); its exit code, or None on timeout."""
        proc = self.start(argv, log_path=log_path, env=env, cwd=cwd)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            self.stop(proc, grace_seconds=1)

    def stop(self, proc, grace_seconds=10, first_signal=signal.SIGTERM, whole_group=True):
        """Send first_signal (to the group, or to the leader only as the kubelet does to
        PID 1), wait up to grace_seconds for the leader to exit, then SIGKILL the group."""
        if proc.poll() is None:
            try:
                if whole_group:
                    os.killpg(proc.pid, first_signal)
                else:
                    proc.send_signal(first_signal)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self):
        for proc in reversed(list(self.running)):
            self.stop(proc, grace_seconds=5)
        if self.pgid_file:
            open(self.pgid_file, "w").close()  # nothing left for run.sh to kill


def process_tree_memory(root_pid):
    """(PSS, RSS) in bytes summed over root_pid and all its descendants (from /proc).

    PSS counts shared pages once, which is close to what a container's memory cgroup is
    charged; RSS double counts shared libraries."""
    pids, frontier = [root_pid], [root_pid]
    while frontier:
        children = []
        for pid in frontier:
            for task in Path(f"/proc/{pid}/task").glob("*"):
                try:
                    children += [int(c) for c in (task / "children").read_text().split()]
                except OSError:
                    pass
        pids += children
        frontier = children
    pss = rss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
        except OSError:
            pass
    return pss, rss


# --------------------------------------------------------------------------- PostgreSQL


def find_postgres_bin():
    """(bin directory, pinned version) of the PostgreSQL that run.sh fetched: E2E_POSTGRES_BIN
    and E2E_POSTGRES_VERSION, never another PostgreSQL found on the machine."""
    bin_dir, pinned = os.environ.get("E2E_POSTGRES_BIN"), os.environ.get("E2E_POSTGRES_VERSION")
    if not bin_dir or not pinned:
        raise Failure(
            "E2E_POSTGRES_BIN and E2E_POSTGRES_VERSION are not set; run tests/e2e/run.sh, "
            "which fetches the PostgreSQL the suite runs"
        )
    bin_dir = Path(bin_dir)
    for tool in ("initdb", "postgres"):
        if not os.access(bin_dir / tool, os.X_OK):
            raise Failure(f"{bin_dir / tool} is missing; run tests/e2e/run.sh, which fetches PostgreSQL {pinned}")
    return bin_dir, pinned


def major_version(version):
    """17 of "17.5" or "17.5.0"."""
    return int(version.split(".")[0])


class Postgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1:5432 with password (scram) authentication,
    so a wrong or mangled PGPASSWORD really fails."""

    def __init__(self, processes, root):
        self.processes = processes
        self.root = root / "postgres"
        self.bin = self.fetched = self.pinned = self.version = None
        self.proc = None

    def start(self):
        self.fetched, self.pinned = find_postgres_bin()
        self.bin = self.fetched
        if port_is_open(POSTGRES_HOST, POSTGRES_PORT):
            raise Failure(f"something already listens on {POSTGRES_HOST}:{POSTGRES_PORT}; stop it first")
        data, sockets = self.root / "data", self.root / "sockets"
        for d in (self.root, data, sockets):
            d.mkdir(mode=0o700)
        pwfile = self.root / "superuser-password"
        pwfile.write_text(POSTGRES_SUPERUSER_PASSWORD + "\n")
        user = None
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            user = "postgres"
            for path in (self.root, data, sockets, pwfile):
                shutil.chown(path, "postgres", "postgres")
            # run.sh's cache is under root's home, which the postgres user may not traverse:
            # it runs a copy of the tree (bin, lib, share; relocatable) in the suite's root.
            install = self.root / "install"
            shutil.copytree(self.fetched.parent, install, symlinks=True)
            self.bin = install / "bin"
        initdb = subprocess.run(
            [
                self.bin / "initdb",
                "-D",
                data,
                "-U",
                "postgres",
                "-A",
                "scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            user=user,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.root,
        )
        if initdb.returncode != 0:
            raise Failure(f"initdb failed:\n{initdb.stdout}{initdb.stderr}")
        self.proc = self.processes.start(
            [
                self.bin / "postgres",
                "-D",
                data,
                "-h",
                POSTGRES_HOST,
                "-p",
                str(POSTGRES_PORT),
                "-k",
                sockets,
                "-c",
                "fsync=off",
            ],
            log_path=self.root / "postgres.log",
            env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8"},
            cwd=self.root,
            user=user,
        )
        wait_until("PostgreSQL to accept connections", 60, self._accepts_connections)
        self.version = self._server_version()

    def _server_version(self):
        """The server's version, which must be of the major version run.sh pinned."""
        conn = self.connect("postgres")
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW server_version")
                version = cur.fetchone()[0]
        finally:
            conn.close()
        if major_version(version) != major_version(self.pinned):
            raise Failure(f"PostgreSQL {version} runs, not the pinned {self.pinned} ({self.fetched})")
        return version

    def _accepts_connections(self):
        if self.proc.poll() is not None:
            raise Failure(f"PostgreSQL exited:\n{log_tail(self.proc.log_path)}")
        try:
            self.connect("postgres").close()
            return True
        except psycopg2.OperationalError:
            return False

    def connect(self, database):
        conn = psycopg2.connect(
            host=POSTGRES_HOST,
            port=POSTGRES_PORT,
            user="postgres",
            password=POSTGRES_SUPERUSER_PASSWORD,
            dbname=database,
            connect_timeout=5,
        )
        conn.autocommit = True
        return conn

    def recreate_database(self, user, password, database):
        """A fresh, empty database owned by a login role (owner, because PostgreSQL 15
        revoked CREATE on schema public from PUBLIC). With password None the role is an
        IAM database user: the proxy's automatic IAM authentication logs it in without a
        password from the client, so pg_hba trusts that role (and only it) on 127.0.0.1."""
        conn = self.connect("postgres")
        try:
            with conn.cursor() as cur:
                self._drop_role(cur, user, [database])
                if password is None:
                    cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(user)))
                else:
                    cur.execute(
                        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(user), sql.Literal(password))
                    )
                cur.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(user))
                )
                self._trust_only(user if password is None else None)
                cur.execute("SELECT pg_reload_conf()")
        finally:
            conn.close()

    def create_database(self, owner, database):
        """Another empty database of the same role (the basic-auth user store, which infra.sh
        creates on the same instance)."""
        conn = self.connect("postgres")
        try:
            with conn.cursor() as cur:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
                cur.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(owner))
                )
        finally:
            conn.close()

    def has_table(self, database, table):
        conn = self.connect(database)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT to_regclass(%s)", (f"public.{table}",))
                return cur.fetchone()[0] is not None
        finally:
            conn.close()

    def recreate_login(self, role, password):
        """A fresh login role with a password, as `gcloud sql users create` makes it: no
        member of anything yet. Databases it owns from an earlier scenario go first."""
        conn = self.connect("postgres")
        try:
            with conn.cursor() as cur:
                self._drop_role(cur, role)
                cur.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
        finally:
            conn.close()

    @staticmethod
    def _drop_role(cur, role, databases=()):
        """Drops ROLE if it exists, after DATABASES and the databases it owns (PostgreSQL
        drops no role that owns one)."""
        cur.execute("SELECT datname FROM pg_database JOIN pg_roles ON datdba = pg_roles.oid WHERE rolname = %s", (role,))
        owned = [row[0] for row in cur.fetchall()]
        for name in sorted({*databases, *owned}):
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        cur.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))

    def _trust_only(self, role):
        """pg_hba.conf as initdb wrote it (scram everywhere), plus trust for one role if given."""
        hba = self.root / "data" / "pg_hba.conf"
        if not hasattr(self, "hba_original"):
            self.hba_original = hba.read_text()
        trust = f'host all "{role}" {POSTGRES_HOST}/32 trust\n' if role else ""
        hba.write_text(trust + self.hba_original)


# --------------------------------------------------------------------------- Cloud Storage emulator


class GcsEmulator:
    def __init__(self, processes, root):
        self.processes = processes
        self.root = root / "gcs"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        (self.root / "data").mkdir(parents=True)
        self.proc = self.processes.start(
            [
                VENV_BIN / "gcp-storage-emulator",
                "-d",
                self.root / "data",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            log_path=self.root / "emulator.log",
            env={"PATH": f"{VENV_BIN}:{os.environ['PATH']}", "HOME": str(self.root), "LANG": "C.UTF-8"},
            cwd=self.root,
        )
        wait_until("the GCS emulator to answer", 60, self._answers)
        # The harness itself reads the bucket through the emulator, like any client would.
        os.environ["STORAGE_EMULATOR_HOST"] = self.url

    def _answers(self):
        if self.proc.poll() is not None:
            raise Failure(f"gcp-storage-emulator exited:\n{log_tail(self.proc.log_path)}")
        try:
            return requests.get(f"{self.url}/storage/v1/b?project=e2e", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def client(self):
        from google.cloud import storage

        return storage.Client()  # anonymous credentials, because STORAGE_EMULATOR_HOST is set

    def empty_bucket(self, name):
        """The bucket exists (infra.sh creates it) and holds nothing yet."""
        client = self.client()
        bucket = client.lookup_bucket(name)
        if bucket is None:
            client.create_bucket(name)
            return
        for blob in list(client.list_blobs(name)):
            blob.delete()

    def blob_names(self, bucket):
        return [blob.name for blob in self.client().list_blobs(bucket)]


# --------------------------------------------------------------------------- the bundle


def load_yaml_documents(path):
    with open(path) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def load_one(path, kind):
    docs = [d for d in load_yaml_documents(path) if d.get("kind") == kind]
    if len(docs) != 1:
        raise Failure(f"{path}: expected exactly one {kind}, found {len(docs)}")
    return docs[0]


class Bundle:
    """The files of a generated bundle that the harness reads."""

    def __init__(self, directory):
        self.dir = Path(directory)
        k8s = self.dir / "kubernetes"
        self.deployment = load_one(k8s / "deployment.yaml", "Deployment")
        if self.deployment.get("apiVersion") != "apps/v1":
            raise Failure(f"deployment.yaml: apiVersion is {self.deployment.get('apiVersion')!r}, expected apps/v1")
        self.pod_spec = self.deployment["spec"]["template"]["spec"]
        self.service = load_one(k8s / "service.yaml", "Service")
        self.configmaps = {}
        if (k8s / "configmap.yaml").exists():
            for doc in load_yaml_documents(k8s / "configmap.yaml"):
                if doc.get("kind") == "ConfigMap":
                    self.configmaps[doc["metadata"]["name"]] = doc.get("data") or {}
        self.requirements = self.dir / "image" / "requirements.txt"
        self.cron_job = None
        if (k8s / "cronjob.yaml").exists():
            self.cron_job = load_one(k8s / "cronjob.yaml", "CronJob")
            if self.cron_job.get("apiVersion") != "batch/v1":
                raise Failure(f"cronjob.yaml: apiVersion is {self.cron_job.get('apiVersion')!r}, expected batch/v1")

    def gc_pod_spec(self):
        """The pod spec of the garbage collector's Job."""
        if self.cron_job is None:
            raise Failure("the stack has a [gc] table, the bundle has no kubernetes/cronjob.yaml")
        return self.cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]

    def namespace(self):
        """The namespace objects land in: their own metadata, else kustomization's, else default."""
        ns = self.deployment["metadata"].get("namespace") or self.service["metadata"].get("namespace")
        kustomization = self.dir / "kubernetes" / "kustomization.yaml"
        if not ns and kustomization.exists():
            ns = (load_yaml_documents(kustomization) or [{}])[0].get("namespace")
        return ns or "default"

    def container(self, name):
        for c in self.pod_spec.get("containers", []):
            if c["name"] == name:
                return c
        raise Failure(f"deployment.yaml: no container named {name!r}")

    def service_port_for(self, container):
        """The Service port that forwards to the container's port (targetPort by number or name)."""
        container_ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
        for port in self.service["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            if target in container_ports.values() or container_ports.get(target) is not None:
                return port["port"]
        raise Failure("service.yaml: no port targets the mlflow container's port")


# --------------------------------------------------------------------------- kubelet emulation


def expand(text, variables):
    """$(VAR) expansion exactly as the kubelet does it (k8s.io/kubernetes third_party expansion):
    $(VAR) is replaced when VAR is defined, else left as written; $$ is a literal $;
    a $ not followed by ( or $ is kept as is."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                close = text.find(")", i + 2)
                if close == -1:  # incomplete reference: kept literally
                    out.append("$(")
                    i += 2
                    continue
                name = text[i + 2 : close]
                out.append(variables[name] if name in variables else f"$({name})")
                i = close + 1
                continue
            out.append("$" + nxt)
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def service_link_variables(service, cluster_ip):
    """The docker-link style variables the kubelet injects for a Service (enableServiceLinks)."""
    prefix = service["metadata"]["name"].upper().replace("-", "_")
    ports = service["spec"].get("ports", [])
    if not ports:
        return {}
    env = {f"{prefix}_SERVICE_HOST": cluster_ip, f"{prefix}_SERVICE_PORT": str(ports[0]["port"])}
    for p in ports:
        if p.get("name"):
            env[f"{prefix}_SERVICE_PORT_{p['name'].upper().replace('-', '_')}"] = str(p["port"])
    first = ports[0]
    env[f"{prefix}_PORT"] = f"{first.get('protocol', 'TCP').lower()}://{cluster_ip}:{first['port']}"
    for p in ports:
        proto = p.get("protocol", "TCP")
        base = f"{prefix}_PORT_{p['port']}_{proto.upper()}"
        env[base] = f"{proto.lower()}://{cluster_ip}:{p['port']}"
        env[f"{base}_PROTO"] = proto.lower()
        env[f"{base}_PORT"] = str(p["port"])
        env[f"{base}_ADDR"] = cluster_ip
    return env


def pgpass_line(password):
    escaped = password.replace("\\", "\\\\").replace(":", "\\:")
    return f"*:*:*:*:{escaped}\n"


class Pod:
    """Runs the pod's containers on this machine the way the kubelet would.

    Volumes: each volume of the pod is materialised as a directory ROOT/volumes/NAME
    (emptyDir: an empty 0777 directory; secret/configMap: one file per key, with the
    volume's defaultMode/items, and with the pod's fsGroup applied as the kubelet does:
    group fsGroup, group-readable). Any env value or arg (or the part after '=' of a
    --flag=value arg) that starts with a volumeMount's mountPath is rewritten to that
    directory; a mount at /tmp also becomes TMPDIR, since /tmp inside the container is
    that emptyDir.

    Root filesystem: when the container has readOnlyRootFilesystem and the suite runs
    as root, the process runs as the pod's runAsUser/runAsGroup (+ fsGroup) with its
    working directory and HOME in a directory it cannot write, so that a write outside
    the mounted volumes fails as it would in the pod. Executables named by an absolute
    image path that does not exist here are taken from the venv's bin directory.
    """

    def __init__(self, bundle, processes, root, secrets, extra_env, spec=None, venv_bin=VENV_BIN):
        self.bundle = bundle
        self.venv_bin = Path(venv_bin)  # where the image's executables are installed here
        self.spec = spec or bundle.pod_spec  # the Deployment's pod, or another (the gc Job's)
        self.processes = processes
        self.root = root
        self.secrets = secrets  # {secret name: {key: value}} that infra.sh would have created
        self.extra_env = extra_env  # only STORAGE_EMULATOR_HOST
        self.volume_dirs = {}
        self.note = None
        self.ran_as = f"uid {os.geteuid()}"
        self._materialise_volumes()

    # ---- volumes

    def _materialise_volumes(self):
        fs_group = (self.spec.get("securityContext") or {}).get("fsGroup")
        for volume in self.spec.get("volumes", []):
            directory = self.root / "volumes" / volume["name"]
            directory.mkdir(parents=True)
            if "emptyDir" in volume:
                directory.chmod(0o777)
            elif "secret" in volume:
                name = volume["secret"]["secretName"]
                if name not in self.secrets and not volume["secret"].get("optional"):
                    raise Failure(f"volume {volume['name']}: the suite cannot supply Secret {name!r}")
                self._write_key_files(directory, self.secrets.get(name, {}), volume["secret"], fs_group)
            elif "configMap" in volume:
                name = volume["configMap"]["name"]
                if name not in self.bundle.configmaps and not volume["configMap"].get("optional"):
                    raise Failure(f"volume {volume['name']}: ConfigMap {name!r} is not in the bundle")
                self._write_key_files(directory, self.bundle.configmaps.get(name, {}), volume["configMap"], fs_group)
            else:
                raise Failure(f"volume {volume['name']}: kind {sorted(volume)} is not supported by the e2e harness")
            self.volume_dirs[volume["name"]] = directory

    @staticmethod
    def _write_key_files(directory, data, source, fs_group):
        default_mode = source.get("defaultMode", 0o644)
        items = source.get("items") or [{"key": k, "path": k} for k in data]
        directory.chmod(0o755)
        for item in items:
            if item["key"] not in data:
                raise Failure(f"volume item {item['key']!r} is not a key the suite can supply")
            target = directory / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[item["key"]])
            mode = item.get("mode", default_mode)
            if fs_group is not None:
                mode |= 0o440  # the kubelet makes read-only volume files group-readable for fsGroup
                if os.geteuid() == 0:
                    os.chown(target, 0, fs_group)
            target.chmod(mode)

    def _mounts(self, container):
        """[(mountPath, host directory)], longest mountPath first."""
        mounts = []
        for m in container.get("volumeMounts", []):
            host = self.volume_dirs[m["name"]]
            if m.get("subPath"):
                host = host / m["subPath"]
            mounts.append((m["mountPath"].rstrip("/") or "/", host))
        return sorted(mounts, key=lambda m: len(m[0]), reverse=True)

    @staticmethod
    def _rewrite_path(value, mounts):
        def rewrite(text):
            for mount_path, host in mounts:
                if text == mount_path or text.startswith(mount_path + "/"):
                    return str(host) + text[len(mount_path) :]
            return text

        if value.startswith("-") and "=" in value:
            flag, _, rest = value.partition("=")
            return f"{flag}={rewrite(rest)}"
        return rewrite(value)

    # ---- environment

    def _env_source_value(self, source, container_name):
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            data = self.bundle.configmaps.get(ref["name"])
            if data is None or ref["key"] not in data:
                if ref.get("optional"):
                    return None
                raise Failure(f"{container_name}: configMapKeyRef {ref['name']}/{ref['key']} is not in configmap.yaml")
            return str(data[ref["key"]])
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            value = self.secrets.get(ref["name"], {}).get(ref["key"])
            if value is None and not ref.get("optional"):
                raise Failure(f"{container_name}: the suite cannot supply secretKeyRef {ref['name']}/{ref['key']}")
            return value
        if "fieldRef" in source:
            fields = {
                "metadata.name": "e2e-pod",
                "metadata.namespace": self.bundle.namespace(),
                "status.podIP": FAKE_POD_IP,
                "spec.nodeName": "e2e-node",
                "spec.serviceAccountName": self.spec.get("serviceAccountName", "default"),
            }
            path = source["fieldRef"]["fieldPath"]
            if path not in fields:
                raise Failure(f"{container_name}: fieldRef {path} is not supported by the e2e harness")
            return fields[path]
        raise Failure(f"{container_name}: env source {sorted(source)} is not supported by the e2e harness")

    def container_env(self, container):
        """The container's environment as the kubelet computes it: service links, envFrom, then env
        in order, each plain value $(VAR)-expanded against what is defined before it."""
        env = {}
        if self.spec.get("enableServiceLinks", True):
            env.update(service_link_variables(self.bundle.service, FAKE_CLUSTER_IP))
        env.update({"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"})
        for source in container.get("envFrom", []):
            prefix = source.get("prefix", "")
            if "configMapRef" in source:
                data = self.bundle.configmaps.get(source["configMapRef"]["name"])
            else:
                data = self.secrets.get(source["secretRef"]["name"])
            if data is None:
                raise Failure(f"{container['name']}: envFrom {source} cannot be resolved")
            env.update({prefix + k: str(v) for k, v in data.items()})
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = expand(str(item["value"]), env)
            elif "valueFrom" in item:
                value = self._env_source_value(item["valueFrom"], container["name"])
                if value is not None:
                    env[item["name"]] = value
            else:
                env[item["name"]] = ""
        return env

    # ---- launching

    def _process_identity(self, container):
        """(user, group, extra_groups, read_only_root) for Popen, from the security contexts."""
        pod_sc = self.spec.get("securityContext") or {}
        sc = container.get("securityContext") or {}
        read_only_root = bool(sc.get("readOnlyRootFilesystem"))
        uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
        gid = sc.get("runAsGroup", pod_sc.get("runAsGroup", uid))
        fs_group = pod_sc.get("fsGroup")
        if os.geteuid() != 0 or uid in (None, 0):
            return None, None, None, read_only_root
        if not self._can_run_python_as(uid, gid):
            self.note = f"note: uid {uid} cannot run {sys.executable} (is the repo path traversable?), running as root"
            return None, None, None, read_only_root
        self.ran_as = f"uid {uid}"
        return uid, gid, ([fs_group] if fs_group is not None else []), read_only_root

    @staticmethod
    @functools.cache
    def _can_run_python_as(uid, gid):
        """The venv's python must be reachable for that user (not under a 0700 /root)."""
        try:
            probe = subprocess.run(
                [sys.executable, "-c", "pass"], user=uid, group=gid, extra_groups=[], capture_output=True, timeout=60
            )
        except OSError:
            return False
        return probe.returncode == 0

    def _executable(self, path):
        if os.path.isabs(path) and not os.path.exists(path) and (self.venv_bin / os.path.basename(path)).exists():
            return str(self.venv_bin / os.path.basename(path))
        return path

    def launch_plan(self, container):
        """(argv, env, cwd, identity) for running the container here."""
        if not container.get("command"):
            raise Failure(f"{container['name']}: no command; the e2e harness runs command + args as generated")
        env = self.container_env(container)
        argv = [expand(str(a), env) for a in container["command"] + container.get("args", [])]
        mounts = self._mounts(container)
        argv = [self._rewrite_path(a, mounts) for a in argv]
        argv[0] = self._executable(argv[0])
        env = {k: self._rewrite_path(v, mounts) for k, v in env.items()}
        user, group, extra_groups, read_only_root = self._process_identity(container)
        rootfs = self.root / f"rootfs-{container['name']}"
        rootfs.mkdir(exist_ok=True)
        rootfs.chmod(0o555 if read_only_root else 0o777)
        base = {
            "PATH": f"{self.venv_bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(rootfs),
            "LANG": "C.UTF-8",
            "HOSTNAME": "e2e-pod",
        }
        tmp_mount = dict(mounts).get("/tmp")
        if tmp_mount:
            base["TMPDIR"] = str(tmp_mount)
        elif read_only_root:
            raise Failure(f"{container['name']}: readOnlyRootFilesystem without a volume mounted at /tmp")
        full_env = {**base, **env, **self.extra_env}
        cwd = (
            self._rewrite_path(container.get("workingDir", ""), mounts) if container.get("workingDir") else str(rootfs)
        )
        if not os.path.isdir(cwd):
            cwd = str(rootfs)
        return argv, full_env, cwd, (user, group, extra_groups)

    def start(self, container, log_path, rewrite=None):
        """Start the container; `rewrite` maps each argument (the cluster's DNS, played here)."""
        argv, env, cwd, (user, group, extra_groups) = self.launch_plan(container)
        if rewrite:
            argv = [rewrite(arg) for arg in argv]
        return self.processes.start(
            argv, log_path=log_path, env=env, cwd=cwd, user=user, group=group, extra_groups=extra_groups
        )

    def run_init_containers(self, logs, pods=1, timeout=INIT_CONTAINER_TIMEOUT_SECONDS):
        """Run each init container to completion, in order, in `pods` pods at once (the
        replicas of a first install all start together). Native sidecars (restartPolicy:
        Always: the Cloud SQL Auth Proxy) are not run: PostgreSQL listens where they would.
        Returns {name: (seconds, peak RSS bytes of the largest copy)}."""
        results = {}
        for container in self.spec.get("initContainers", []):
            if container.get("restartPolicy") == "Always":
                continue
            name = container["name"]
            started = time.monotonic()
            copies = [self.start(container, logs / f"{name}-pod{i}.log") for i in range(pods)]
            outcomes = [self._wait_with_rusage(proc, timeout - (time.monotonic() - started)) for proc in copies]
            for proc in copies:
                self.processes.stop(proc, grace_seconds=1)
            for proc, (status, peak_rss) in zip(copies, outcomes):
                where = f"init container {name}" + (f" (one of {pods} pods started together)" if pods > 1 else "")
                if status is None:
                    raise Failure(f"{where} did not finish in {timeout} s:\n{log_tail(proc.log_path)}")
                if status != 0:
                    raise Failure(f"{where} exited with {status}:\n{log_tail(proc.log_path)}")
                limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
                if limit and peak_rss > parse_quantity(limit):
                    raise Failure(f"{where} peaked at {mib(peak_rss)} RSS, over its memory limit {limit}")
            results[name] = (time.monotonic() - started, max(peak for _, peak in outcomes))
        return results

    @staticmethod
    def _wait_with_rusage(proc, timeout):
        """(exit status or None on timeout, peak RSS in bytes) of a child process."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                return proc.returncode, usage.ru_maxrss * 1024
            time.sleep(0.2)
        return None, 0

    def stop_container(self, container, proc):
        """As the kubelet stops a container: the preStop hook, then SIGTERM to its main
        process (PID 1 in the pod), SIGKILL when the grace period is over. Returns seconds."""
        grace = self.spec.get("terminationGracePeriodSeconds", DEFAULT_TERMINATION_GRACE_SECONDS)
        started = time.monotonic()
        hook = (container.get("lifecycle") or {}).get("preStop") or {}
        if "sleep" in hook:
            time.sleep(min(hook["sleep"]["seconds"], grace))
        elif "httpGet" in hook:
            get = hook["httpGet"]
            try:
                requests.get(
                    f"http://127.0.0.1:{self._resolve_port(container, get['port'])}{get.get('path', '/')}",
                    timeout=grace,
                )
            except requests.RequestException:
                pass
        elif "exec" in hook:
            _, env, cwd, _ = self.launch_plan(container)
            self.processes.run(hook["exec"]["command"], log_path=proc.log_path, env=env, cwd=cwd, timeout=grace)
        remaining = max(0.0, grace - (time.monotonic() - started))
        self.processes.stop(proc, grace_seconds=remaining, whole_group=False)
        return time.monotonic() - started

    # ---- probes

    def _probe_once(self, container, probe):
        """True when the probe succeeds, as the kubelet judges it."""
        timeout = probe.get("timeoutSeconds", 1)
        if "httpGet" in probe:
            get = probe["httpGet"]
            port = self._resolve_port(container, get["port"])
            headers = {"Host": f"{get.get('host', FAKE_POD_IP)}:{port}"}
            for h in get.get("httpHeaders", []):
                headers[h["name"]] = h["value"]
            url = f"{get.get('scheme', 'HTTP').lower()}://127.0.0.1:{port}{get.get('path', '/')}"
            try:
                response = requests.get(url, headers=headers, timeout=timeout, allow_redirects=False, verify=False)
            except requests.RequestException:
                return False
            return 200 <= response.status_code < 400
        if "tcpSocket" in probe:
            port = self._resolve_port(container, probe["tcpSocket"]["port"])
            return port_is_open("127.0.0.1", port)
        raise Failure(f"{container['name']}: probe {sorted(probe)} is not supported by the e2e harness")

    @staticmethod
    def _resolve_port(container, port):
        if isinstance(port, int) or str(port).isdigit():
            return int(port)
        for p in container.get("ports", []):
            if p.get("name") == port:
                return p["containerPort"]
        raise Failure(f"{container['name']}: probe port {port!r} names no container port")

    def wait_ready(self, container, proc, timeout=READINESS_TIMEOUT_SECONDS):
        """Run the startup, liveness and readiness probes as the kubelet's probe workers do,
        until the readiness probe succeeds: each probe ticks every periodSeconds from the
        container's start, does nothing before initialDelaySeconds, and liveness/readiness
        do nothing until the startup probe (if any) has succeeded. Fails when the process
        exits, when the startup or liveness probe fails failureThreshold times in a row (the
        kubelet would kill the container), or after `timeout` s. Returns seconds to ready."""
        probes = {kind: container.get(f"{kind}Probe") for kind in ("startup", "liveness", "readiness")}
        probes = {kind: probe for kind, probe in probes.items() if probe}
        if "readiness" not in probes:
            raise Failure(f"{container['name']}: no readinessProbe")
        started = time.monotonic()
        next_tick = {kind: started for kind in probes}
        failures = {kind: 0 for kind in probes}
        startup_done = "startup" not in probes
        while True:
            if proc.poll() is not None:
                raise Failure(
                    f"{container['name']} exited with {proc.returncode} before it was ready (its log is below)"
                )
            now = time.monotonic()
            if now - started > timeout:
                raise Failure(f"{container['name']} not ready after {timeout} s (its log is below)")
            kind = min(next_tick, key=next_tick.get)
            if next_tick[kind] > now:
                time.sleep(min(next_tick[kind] - now, 1.0))
                continue
            probe = probes[kind]
            next_tick[kind] += probe.get("periodSeconds", 10)
            if now - started < probe.get("initialDelaySeconds", 0):
                continue
            if (kind == "startup") == startup_done:  # startup probes only until started, the others only after
                continue
            if self._probe_once(container, probe):
                failures[kind] = 0
                if kind == "startup":
                    startup_done = True
                elif kind == "readiness":
                    return time.monotonic() - started
                continue
            failures[kind] += 1
            if kind != "readiness" and failures[kind] >= probe.get("failureThreshold", 3):
                raise Failure(
                    f"the kubelet would kill {container['name']}: its {kind} probe failed "
                    f"{failures[kind]} times in a row, {time.monotonic() - started:.0f} s after start (its log is below)"
                )


# --------------------------------------------------------------------------- MLflow checks


def option_value(argv, env, flag, envvar):
    """The value of --flag VALUE / --flag=VALUE in argv, else of the env var click would read."""
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg[len(flag) + 1 :]
    return env.get(envvar)


def has_flag(argv, flag):
    return flag in argv


class Server:
    """The running `mlflow` container, reached the way a port-forward reaches it; with
    `credentials` (user, password) every request of the harness and of the clients signs in."""

    def __init__(self, port, credentials=None):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.host_header = f"localhost:{port}"  # kubectl port-forward to local port == container port
        self.credentials = credentials

    def get(self, endpoint, host=None, **params):
        return self.request("GET", endpoint, host=host, params=params or None)

    def request(self, method, endpoint, host=None, auth="default", **kwargs):
        """One request; `auth` is (user, password), None for an anonymous one, or the server's credentials."""
        return requests.request(
            method,
            self.base + endpoint,
            headers={"Host": host or self.host_header, **kwargs.pop("headers", {})},
            auth=self.credentials if auth == "default" else auth,
            timeout=30,
            **kwargs,
        )

    def get_as(self, credentials, endpoint, **params):
        """GET as `credentials` (user, password), or anonymously with None."""
        return self.request("GET", endpoint, auth=credentials, params=params or None)

    def get_json(self, endpoint, **params):
        response = self.get(endpoint, **params)
        if response.status_code != 200:
            raise Failure(f"GET {endpoint} {params} -> {response.status_code}: {response.text[:300]}")
        return response.json()


def client_env(server, env_extra):
    """The environment of a user's client: the tracking URI of a port-forward, the user and
    password MLflow's client signs in with when the server has basic auth, plus
    STORAGE_EMULATOR_HOST only when the client writes to the bucket itself."""
    return {
        "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "MLFLOW_TRACKING_URI": f"http://localhost:{server.port}",
        **(
            {"MLFLOW_TRACKING_USERNAME": server.credentials[0], "MLFLOW_TRACKING_PASSWORD": server.credentials[1]}
            if server.credentials
            else {}
        ),
        **env_extra,
    }


def lines_starting(path, prefix):
    return [
        line[len(prefix) :].strip()
        for line in Path(path).read_text(errors="replace").splitlines()
        if line.startswith(prefix)
    ]


def run_train(processes, server, env_extra, log_path, python=sys.executable):
    status = processes.run(
        [python, TRAIN_SCRIPT],
        log_path=log_path,
        env=client_env(server, env_extra),
        cwd=log_path.parent,
        timeout=TRAIN_TIMEOUT_SECONDS,
    )
    if status != 0:
        raise Failure(
            f"examples/train.py {'timed out' if status is None else f'exited with {status}'}:\n{log_tail(log_path)}"
        )
    run_ids = lines_starting(log_path, "run_id:")
    if len(run_ids) != 1:
        raise Failure(f"examples/train.py printed no 'run_id: ...' line:\n{log_tail(log_path)}")
    return run_ids[0]


def quote_ident(name):
    """NAME as a PostgreSQL identifier in double quotes."""
    return '"' + name.replace('"', '""') + '"'


def check_run(server, run_id):
    """The run, its params and metrics exist in the tracking server. Returns the run JSON."""
    run = server.get_json("/api/2.0/mlflow/runs/get", run_id=run_id)["run"]
    if run["info"]["status"] != "FINISHED":
        raise Failure(f"run {run_id} status is {run['info']['status']}, expected FINISHED")
    params = {p["key"]: p["value"] for p in run["data"].get("params", [])}
    if params.get("feature_count") != "1" or params.get("method") != "least-squares":
        raise Failure(f"run {run_id} params are {params}")
    metrics = {m["key"]: m["value"] for m in run["data"].get("metrics", [])}
    if abs(metrics.get("slope", 0) - 3.0) > 1e-9 or abs(metrics.get("intercept", 0) - 2.0) > 1e-9:
        raise Failure(f"run {run_id} metrics are {metrics}")
    history = server.get_json("/api/2.0/mlflow/metrics/get-history", run_id=run_id, metric_key="squared_error")
    if len(history.get("metrics", [])) != 10:
        raise Failure(f"run {run_id}: squared_error history has {len(history.get('metrics', []))} points, expected 10")
    return run


def logged_model_of(server, run):
    outputs = (run.get("outputs") or {}).get("model_outputs") or []
    if len(outputs) != 1:
        raise Failure(f"run {run['info']['run_id']} has model outputs {outputs}, expected one logged model")
    model_id = outputs[0]["model_id"]
    return server.get_json(f"/api/2.0/mlflow/logged-models/{model_id}")["model"]


def gcs_location_of(artifact_uri, artifacts_destination):
    """Where an artifact URI lives in the bucket: gs:// as is, mlflow-artifacts:/P under the destination."""
    if artifact_uri.startswith("gs://"):
        return artifact_uri
    if artifact_uri.startswith("mlflow-artifacts:"):
        path = urllib.parse.urlparse(artifact_uri).path.lstrip("/")
        if not artifacts_destination:
            raise Failure(f"artifact URI {artifact_uri} is proxied but the server has no --artifacts-destination")
        return artifacts_destination.rstrip("/") + "/" + path
    raise Failure(f"artifact URI {artifact_uri} is neither gs:// nor mlflow-artifacts:")


def check_metrics(server, container, pod):
    """The server exposes Prometheus metrics, with its multiprocess files on an emptyDir,
    and counts the requests it served."""
    argv, env, _, _ = pod.launch_plan(container)
    directory = option_value(argv, env, "--expose-prometheus", "MLFLOW_EXPOSE_PROMETHEUS")
    if not directory:
        raise Failure(f"metrics = true, yet the mlflow container has no --expose-prometheus: {argv}")
    empty_dirs = {str(pod.volume_dirs[v["name"]]) for v in pod.spec.get("volumes", []) if "emptyDir" in v}
    if not any(directory == d or directory.startswith(d + "/") for d in empty_dirs):
        raise Failure(f"--expose-prometheus={directory} is not on an emptyDir volume")
    # As Managed Prometheus scrapes it: by the pod's IP, which MLflow's Host check must allow.
    response = server.get("/metrics", host=f"{FAKE_POD_IP}:{server.port}")
    if response.status_code != 200:
        raise Failure(f"GET /metrics with Host {FAKE_POD_IP}:{server.port} -> {response.status_code}: {response.text[:300]}")
    counters = [
        line
        for line in response.text.splitlines()
        if line.startswith("mlflow_http_request_total{") and float(line.rsplit(" ", 1)[1]) > 0
    ]
    if not counters:
        raise Failure(f"/metrics has no mlflow_http_request_total counter above 0:\n{response.text[:1500]}")
    if not any(Path(directory).glob("*.db")):
        raise Failure(f"no multiprocess metric files in {directory}")
    check_readme_queries(pod.bundle, response.text)
    return len(counters)


# Labels Managed Prometheus adds to every scraped series, and the histogram's own.
SCRAPER_LABELS = {"namespace", "cluster", "location", "project_id", "job", "instance", "le"}


def check_readme_queries(bundle, exposition):
    """Every metric the bundle README's PromQL queries name is in the exposition, with every
    label they filter or group by (but those the scraper adds)."""
    readme = (bundle.dir / "README.md").read_text()
    start = readme.find("```promql\n")
    if start < 0:
        raise Failure("metrics = true, yet the bundle README has no ```promql block")
    block = readme[start + len("```promql\n") : readme.index("```", start + 3)]
    queries = [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    names = set(re.findall(r"\b(mlflow_[a-z_]+)", "\n".join(queries)))
    labels = set(re.findall(r"\b([a-z_]+)\s*(?:=~|!=|!~|=)\s*\"", "\n".join(queries)))
    for group in re.findall(r"by \(([^)]*)\)", "\n".join(queries)):
        labels.update(label.strip() for label in group.split(","))
    labels -= SCRAPER_LABELS
    if len(names) < 2:
        raise Failure(f"the README's queries name too few MLflow metrics: {sorted(names)}")
    series = [line for line in exposition.splitlines() if line and not line.startswith("#")]
    for name in sorted(names):
        found = [line for line in series if line.startswith(name + "{") or line.startswith(name + " ")]
        if not found:
            raise Failure(f"the README's query metric {name} is not exposed:\n{exposition[:1500]}")
        for label in sorted(labels):
            if not any(f"{label}=\"" in line for line in found):
                raise Failure(f"the README's queries use label {label!r}, which {name} lacks: {found[:3]}")


def cluster_dns(bundle, server):
    """What the cluster's DNS and the Service do for a pod: the Service's names at its port
    reach the server container (here on 127.0.0.1 at the container port)."""
    name, namespace = bundle.service["metadata"]["name"], bundle.namespace()
    port = bundle.service_port_for(bundle.container("mlflow"))
    names = [f"{name}.{namespace}.svc.cluster.local", f"{name}.{namespace}.svc", f"{name}.{namespace}", name]
    local = f"http://127.0.0.1:{server.port}"

    def rewrite(arg):
        for host in names:
            arg = arg.replace(f"http://{host}:{port}", local)
        return arg

    return rewrite


def count_run_rows(database, run_id):
    """Rows about the run in MLflow's tables, read as the superuser."""
    with psycopg2.connect(
        host=POSTGRES_HOST, port=POSTGRES_PORT, user="postgres", password=POSTGRES_SUPERUSER_PASSWORD, dbname=database
    ) as connection, connection.cursor() as cursor:
        counts = {}
        for table in ("runs", "params", "metrics", "latest_metrics", "tags"):
            cursor.execute(sql.SQL("SELECT count(*) FROM {} WHERE run_uuid = %s").format(sql.Identifier(table)), [run_id])
            counts[table] = cursor.fetchone()[0]
        return counts


def check_gc(processes, bundle, work, secrets, server, config, gcs, logs):
    """The generated `mlflow gc` Job removes a deleted run's rows and artifacts and keeps a
    live run's. Returns a summary."""
    spec = bundle.gc_pod_spec()
    containers = spec.get("containers", [])
    if [c["name"] for c in containers] != ["gc"]:
        raise Failure(f"the gc Job's pod has containers {[c['name'] for c in containers]}, expected ['gc']")
    sidecars = [c["name"] for c in spec.get("initContainers", []) if c.get("restartPolicy") == "Always"]
    if sidecars != ["cloud-sql-proxy"] or spec.get("restartPolicy") not in ("Never", "OnFailure"):
        raise Failure(f"the gc Job's pod needs the proxy as its only native sidecar, found {sidecars}")
    log_path = logs / "gc_runs.log"
    status = processes.run(
        [sys.executable, GC_RUNS_SCRIPT],
        log_path=log_path,
        env=client_env(server, {} if config.serve_artifacts else {"STORAGE_EMULATOR_HOST": gcs.url}),
        cwd=logs,
        timeout=TRAIN_TIMEOUT_SECONDS,
    )
    if status != 0:
        raise Failure(f"gc_runs.py exited with {status}:\n{log_tail(log_path)}")
    runs = json.loads(Path(log_path).read_text().strip().splitlines()[-1])
    locations = {}
    for which in ("deleted", "kept"):
        bucket, prefix = split_gs(gcs_location_of(runs[which]["artifact_uri"], config.artifact_root))
        locations[which] = (bucket, prefix)
        if not [n for n in gcs.blob_names(bucket) if n.startswith(prefix + "/")]:
            raise Failure(f"the {which} run has no artifact under gs://{bucket}/{prefix} before gc")
    time.sleep(2)  # past the stack's older_than
    gc_pod = Pod(bundle, processes, work / "gc-pod", secrets, {"STORAGE_EMULATOR_HOST": gcs.url}, spec=spec)
    proc = gc_pod.start(containers[0], logs / "gc.log", rewrite=cluster_dns(bundle, server))
    exit_status, peak = gc_pod._wait_with_rusage(proc, INIT_CONTAINER_TIMEOUT_SECONDS)
    processes.stop(proc, grace_seconds=1)
    if exit_status != 0:
        raise Failure(f"mlflow gc {'timed out' if exit_status is None else f'exited with {exit_status}'}:\n{log_tail(proc.log_path)}")
    limit = ((containers[0].get("resources") or {}).get("limits") or {}).get("memory")
    if limit and peak > parse_quantity(limit):
        raise Failure(f"mlflow gc peaked at {mib(peak)} RSS, over its memory limit {limit}")
    deleted, kept = runs["deleted"]["run_id"], runs["kept"]["run_id"]
    if server.get("/api/2.0/mlflow/runs/get", run_id=deleted).status_code != 404:
        raise Failure(f"the deleted run {deleted} is still served after gc")
    left = {table: n for table, n in count_run_rows(config.database, deleted).items() if n}
    if left:
        raise Failure(f"rows of the deleted run {deleted} are left after gc: {left}")
    bucket, prefix = locations["deleted"]
    if [n for n in gcs.blob_names(bucket) if n.startswith(prefix + "/")]:
        raise Failure(f"artifacts of the deleted run are left under gs://{bucket}/{prefix}:\n{log_tail(proc.log_path)}")
    kept_run = server.get_json("/api/2.0/mlflow/runs/get", run_id=kept)["run"]
    if {p["key"]: p["value"] for p in kept_run["data"].get("params", [])} != {"which": "kept"}:
        raise Failure(f"the kept run {kept} lost its params: {kept_run['data']}")
    if not all(count_run_rows(config.database, kept)[t] for t in ("runs", "params", "metrics")):
        raise Failure(f"rows of the kept run {kept} are gone: {count_run_rows(config.database, kept)}")
    bucket, prefix = locations["kept"]
    if f"{prefix}/notes/hello.txt" not in gcs.blob_names(bucket):
        raise Failure(f"the kept run's artifact gs://{bucket}/{prefix}/notes/hello.txt is gone")
    return f"gc removed the deleted run's rows and artifacts and kept the live run ({mib(peak)} peak)"


def install_pins(requirements, logs):
    """The venv holds every pin of the scenario's image: run.sh installed the main stack's;
    a variant may pin more (metrics: prometheus-flask-exporter)."""
    if subprocess.run([sys.executable, PINS_MATCH_SCRIPT, requirements]).returncode == 0:
        return
    log_path = logs / "pip.log"
    with open(log_path, "w") as log:
        status = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirements],
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=600,
        ).returncode
    if status != 0 or subprocess.run([sys.executable, PINS_MATCH_SCRIPT, requirements]).returncode != 0:
        raise Failure(f"installing the pins of {requirements} failed:\n{log_tail(log_path)}")


def split_gs(uri):
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme != "gs":
        raise Failure(f"{uri} is not a gs:// URI")
    return parsed.netloc, parsed.path.strip("/")


def check_model_artifacts(processes, server, gcs, model, artifact_root, direct_env, log_path):
    """The model's files are in the bucket under the stack's prefix, and load back through the server."""
    root_bucket, root_prefix = split_gs(artifact_root)
    serve = not model["info"]["artifact_uri"].startswith("gs://")
    location = gcs_location_of(model["info"]["artifact_uri"], artifact_root if serve else None)
    bucket, prefix = split_gs(location)
    under_root = root_prefix == "" or prefix.startswith(root_prefix + "/")
    if bucket != root_bucket or not under_root:
        raise Failure(f"model artifacts at {location}, not under {artifact_root}")
    names = [n for n in gcs.blob_names(bucket) if n.startswith(prefix + "/")]
    files = sorted(n[len(prefix) + 1 :] for n in names)
    for required in ("MLmodel", "python_model.pkl"):
        if required not in files:
            raise Failure(f"gs://{bucket}/{prefix}/{required} missing from the bucket; found {files}")
    if serve:  # downloads go through the server's proxy
        listing = server.get_json(
            "/api/2.0/mlflow-artifacts/artifacts", path=location[len(artifact_root.rstrip("/")) + 1 :]
        )
        if "MLmodel" not in [f["path"] for f in listing.get("files", [])]:
            raise Failure(f"the server's artifact proxy does not list MLmodel: {listing}")
    status = processes.run(
        [sys.executable, LOAD_MODEL_SCRIPT, f"models:/{model['info']['model_id']}"],
        log_path=log_path,
        env=client_env(server, direct_env),
        cwd=log_path.parent,
        timeout=TRAIN_TIMEOUT_SECONDS,
    )
    if status != 0:
        raise Failure(f"loading the model back failed:\n{log_tail(log_path)}")
    prediction = [json.loads(line) for line in lines_starting(log_path, "prediction:")]
    prediction = prediction[-1] if prediction else None
    if prediction != [14.0]:
        raise Failure(f"the loaded model predicts {prediction} for x=4, expected [14.0]")
    return f"gs://{bucket}/{prefix}"


def expected_hosts(bundle, container, stack):
    """Host headers users will send: port-forwards to local ports, the Service's DNS names with
    its port, and every server.allowed_hosts entry of the stack."""
    service = bundle.service["metadata"]["name"]
    namespace = bundle.namespace()
    port = bundle.service_port_for(container)
    names = [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]
    hosts = ["localhost:8080", f"localhost:{free_port()}"]
    hosts += [f"{n}:{port}" for n in names]
    if port == 80:
        hosts += names
    for entry in (stack.get("server") or {}).get("allowed_hosts", []):
        hosts.append(entry.replace("*", "e2e"))
    return hosts


def check_hosts(server, hosts):
    """Each Host in `hosts` gets 200 from an endpoint that is subject to MLflow's host check;
    unknown hosts get 400 or 403."""
    not_served, not_refused = [], []
    for host in hosts:
        code = server.get(HOST_CHECK_PATH, host=host).status_code
        if code != 200:
            not_served.append(f"{host} -> {code}")
    for host in REFUSED_HOSTS:
        code = server.get(HOST_CHECK_PATH, host=host).status_code
        if code not in (400, 403):
            not_refused.append(f"{host} -> {code}")
    problems = []
    if not_served:
        problems.append("Host headers users will send are not served: " + ", ".join(not_served))
    if not_refused:
        problems.append("unknown Host headers are not refused (expected 400/403): " + ", ".join(not_refused))
    if problems:
        raise Failure("; ".join(problems))


def check_memory(container, proc):
    """The server's process tree fits the container's memory limit (else: OOM-killed).
    Returns (PSS bytes, limit as written)."""
    pss, _rss = process_tree_memory(proc.pid)
    limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    if limit and pss > parse_quantity(limit):
        raise Failure(
            f"the mlflow process tree uses {mib(pss)} (PSS), over its memory limit {limit}: it would be OOM-killed"
        )
    return pss, limit


# --------------------------------------------------------------------------- basic auth

ADMIN_PASSWORD_ENV = "MLFLOW_AUTH_ADMIN_PASSWORD"
FLASK_KEY_ENV = "MLFLOW_FLASK_SERVER_SECRET_KEY"
AUTH_CONFIG_ENV = "MLFLOW_AUTH_CONFIG_PATH"


def generated_secret():
    """What infra.sh generates for the admin password and the Flask key: `openssl rand -hex 24`
    with the newline removed."""
    return secrets.token_hex(24)


def auth_secrets_for(container):
    """The Secrets infra.sh's auth-secret step creates: the values behind the secretKeyRefs of
    the admin password and the Flask key, generated as infra.sh does. Returns (secrets, admin
    password)."""
    found, password = {}, None
    for item in container.get("env", []):
        ref = (item.get("valueFrom") or {}).get("secretKeyRef")
        if item["name"] in (ADMIN_PASSWORD_ENV, FLASK_KEY_ENV):
            if not ref:
                raise Failure(f"mlflow container: {item['name']} must come from a Secret, not the bundle")
            value = generated_secret()
            found.setdefault(ref["name"], {})[ref["key"]] = value
            if item["name"] == ADMIN_PASSWORD_ENV:
                password = value
    if password is None or len(found) != 2:
        raise Failure(f"mlflow container: basic auth needs {ADMIN_PASSWORD_ENV} and {FLASK_KEY_ENV} from two Secrets")
    return found, password


class BasicAuthConfig:
    """MLflow's basic-auth app as the `mlflow` container runs it: `--app-name=basic-auth`, the
    configuration file MLFLOW_AUTH_CONFIG_PATH names (from the bundle's ConfigMap volume), the
    admin password from a Secret."""

    def __init__(self, pod, container, stack, server, admin_password):
        argv, env, _, _ = pod.launch_plan(container)
        if option_value(argv, {}, "--app-name", None) != "basic-auth":
            raise Failure(f"the stack has [auth] kind = \"basic\" but the server runs without --app-name=basic-auth: {argv}")
        path = env.get(AUTH_CONFIG_ENV)
        if not path or not Path(path).is_file():
            raise Failure(f"mlflow container: {AUTH_CONFIG_ENV}={path!r} is not a file the pod mounts")
        config = configparser.ConfigParser()
        config.read(path)
        section = config["mlflow"]
        self.default_permission = section["default_permission"]
        wanted = stack["auth"].get("default_permission", "READ")
        if self.default_permission != wanted:
            raise Failure(f"basic_auth.ini: default_permission = {self.default_permission}, the stack says {wanted}")
        user, self.database = ServerConfig.parse_backend_uri(section["database_uri"])
        if user != server.user:
            raise Failure(f"the user store is reached as {user!r}, the tracking store as {server.user!r}")
        if self.database == server.database:
            raise Failure(f"the user store shares the database {self.database!r} with the tracking store")
        self.credentials = (section["admin_username"], admin_password)


def with_port(container, port):
    """The container as another replica runs it on this machine: the same command, env and
    volumes, on another port (on Kubernetes each pod has its own address)."""
    replica = copy.deepcopy(container)
    args = replica.get("args", [])
    at = [i for i, arg in enumerate(args) if arg.startswith("--port=")]
    if len(at) != 1:
        raise Failure(f"mlflow container: expected one --port=N argument, found {args}")
    old = int(args[at[0]].split("=", 1)[1])
    args[at[0]] = f"--port={port}"
    for p in replica.get("ports", []):
        if p["containerPort"] == old:
            p["containerPort"] = port
    return replica


def expect_status(problems, what, response, expected):
    if response.status_code != expected:
        problems.append(f"{what} -> {response.status_code} (expected {expected}): {response.text[:200]!r}")


def check_basic_auth(first, second, run_id, default_permission):
    """Against two replicas of the basic-auth server (same databases, same Flask key):
    anonymous and wrong-password API calls get 401, /health 200 without credentials, the
    admin 200; a user created on one replica signs in on the other and has exactly
    `default_permission` on the admin's run; a sign-up form from one replica (its session
    cookie and CSRF token) is accepted by the other, and refused without the cookie or with
    its signature altered."""
    problems = []
    admin = first.credentials
    for server in (first, second):
        where = f"replica on port {server.port}:"
        expect_status(problems, f"{where} anonymous GET {HOST_CHECK_PATH}", server.get_as(None, HOST_CHECK_PATH), 401)
        wrong = (admin[0], admin[1][::-1])
        expect_status(problems, f"{where} wrong password", server.get_as(wrong, HOST_CHECK_PATH), 401)
        expect_status(problems, f"{where} anonymous GET /health", server.get_as(None, "/health"), 200)
        expect_status(problems, f"{where} admin GET {HOST_CHECK_PATH}", server.get_as(admin, HOST_CHECK_PATH), 200)
    if problems:
        raise Failure("; ".join(problems))

    # One user store: created through the API of one replica, signed in on the other.
    reader = ("e2e-reader", secrets.token_hex(12))
    created = first.request("POST", "/api/2.0/mlflow/users/create", json={"username": reader[0], "password": reader[1]})
    expect_status(problems, "admin creates a user", created, 200)
    if problems:
        raise Failure("; ".join(problems))
    read = second.get_as(reader, "/api/2.0/mlflow/runs/get", run_id=run_id)
    metric = {"run_id": run_id, "key": "written_by_reader", "value": 1.0, "timestamp": 0, "step": 0}
    write = second.request("POST", "/api/2.0/mlflow/runs/log-metric", auth=reader, json=metric)
    if default_permission in ("READ", "EDIT", "MANAGE"):
        expect_status(problems, f"{reader[0]} ({default_permission}) reads the admin's run", read, 200)
    if default_permission == "READ":
        expect_status(problems, f"{reader[0]} (READ) logs a metric to the admin's run", write, 403)
        # The refusal is about permission, not a malformed request: the admin's same write passes.
        admin_write = second.request("POST", "/api/2.0/mlflow/runs/log-metric", json={**metric, "key": "written_by_admin"})
        expect_status(problems, "the admin logs the same metric", admin_write, 200)
        logged = {m["key"] for m in first.get_json("/api/2.0/mlflow/runs/get", run_id=run_id)["run"]["data"]["metrics"]}
        if "written_by_reader" in logged or "written_by_admin" not in logged:
            problems.append(f"after the refused and the allowed write the run has metrics {sorted(logged)}")
    if problems:
        raise Failure("; ".join(problems))

    # One Flask key: the sign-up form (session cookie + CSRF token) of one replica posted to the other.
    signup_user = ("e2e-signup", secrets.token_hex(12))
    browser = requests.Session()
    form = browser.get(second.base + "/signup", headers={"Host": second.host_header}, auth=admin, timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if form.status_code != 200 or not token or not browser.cookies:
        raise Failure(f"GET /signup -> {form.status_code}, cookies {list(browser.cookies.keys())}: {form.text[:200]!r}")
    data = {"username": signup_user[0], "password": signup_user[1], "csrf_token": token.group(1)}
    create_ui = "/api/2.0/mlflow/users/create-ui"
    without_cookie = first.request("POST", create_ui, data=data)
    expect_status(problems, "the sign-up form posted without its session cookie", without_cookie, 400)
    # The session cookie is signed with the Flask key: one with a broken signature is refused,
    # so the other replica accepting the real one means both sign with the same key.
    name, value = next(iter(browser.cookies.items()))
    tampered = value[:-1] + ("A" if value[-1] != "A" else "B")
    forged = first.request("POST", create_ui, data=data, headers={"Cookie": f"{name}={tampered}"})
    expect_status(problems, "the sign-up form posted with a tampered session cookie", forged, 400)
    posted = browser.post(first.base + create_ui, data=data, headers={"Host": first.host_header}, auth=admin, timeout=30)
    expect_status(problems, "the sign-up form of one replica posted to the other", posted, 200)
    expect_status(problems, f"{signup_user[0]} signs in", second.get_as(signup_user, HOST_CHECK_PATH), 200)
    if problems:
        raise Failure("; ".join(problems))
    return (
        f"basic auth: anonymous 401, /health 200, admin 200, {reader[0]} reads and may not write, "
        "user store, session and CSRF shared by 2 replicas"
    )


# --------------------------------------------------------------------------- IAP

PROJECT_NUMBER_ENV = "MLFLOW_STACK_IAP_PROJECT_NUMBER"
IAP_SECTION = "mlflow-stack-iap"
IAP_AUTHORIZATION_FUNCTION = "mlflow_stack_iap:authenticate_request_iap"
IAP_MODULE = "mlflow_stack_iap.py"
E2E_PROJECT_NUMBER = "123456789012"  # what infra.sh writes into the Secret, from gcloud projects describe
E2E_BACKEND_AUDIENCE = f"/projects/{E2E_PROJECT_NUMBER}/global/backendServices/4242424242"
ANA, BOB, BOSS = "ana@acme.example", "bob@acme.example", "boss@acme.example"
CI_TRAINER = "ci-trainer@acme-ml-prod.iam.gserviceaccount.com"
# The client logs once a second for longer than two of the stand-in's 20-second tokens.
IAP_CLIENT_WRITES = 2 * iap_standin.TOKEN_LIFETIME_SECONDS + 5


def iap_project_secret(container):
    """The Secret infra.sh writes the project number into (the accepted audience), found
    through the secretKeyRef behind MLFLOW_STACK_IAP_PROJECT_NUMBER."""
    for item in container.get("env", []):
        if item["name"] == PROJECT_NUMBER_ENV:
            ref = (item.get("valueFrom") or {}).get("secretKeyRef")
            if not ref:
                raise Failure(f"mlflow container: {PROJECT_NUMBER_ENV} must come from a Secret infra.sh writes")
            return {ref["name"]: {ref["key"]: E2E_PROJECT_NUMBER}}
    raise Failure(f"mlflow container: an iap stack's server has no {PROJECT_NUMBER_ENV}")


def auth_config_source(bundle, container):
    """(ConfigMap name, key) of the file MLFLOW_AUTH_CONFIG_PATH names, through the volume mounted there."""
    path = next((i.get("value") for i in container.get("env", []) if i["name"] == AUTH_CONFIG_ENV), None)
    volumes = {v["name"]: v for v in bundle.pod_spec.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        prefix = mount["mountPath"].rstrip("/") + "/"
        source = volumes.get(mount["name"], {}).get("configMap")
        if path and source and path.startswith(prefix):
            relative = path[len(prefix) :]
            key = next((i["key"] for i in source.get("items", []) if i["path"] == relative), relative)
            return source["name"], key
    raise Failure(f"mlflow container: {AUTH_CONFIG_ENV}={path!r} is in no ConfigMap volume")


def trusting_test_keys(bundle, container, keys_url):
    """A copy of BUNDLE whose auth configuration also names the suite's key server: the
    bundle itself never sets keys_url (the server trusts Google's keys), the suite alone
    adds it, in the section the module reads."""
    name, key = auth_config_source(bundle, container)
    text = bundle.configmaps[name][key]
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(text)
    if not config.has_section(IAP_SECTION):
        raise Failure(f"configmap.yaml {name}/{key} has no [{IAP_SECTION}] section")
    if config.has_option(IAP_SECTION, "keys_url"):
        raise Failure(f"configmap.yaml {name}/{key} sets keys_url: the bundle must trust Google's keys only")
    header = f"[{IAP_SECTION}]\n"
    trusted = copy.copy(bundle)
    trusted.configmaps = copy.deepcopy(bundle.configmaps)
    trusted.configmaps[name][key] = text.replace(header, f"{header}keys_url = {keys_url}\n", 1)
    return trusted


class IapConfig:
    """The IAP part of the auth configuration as the bundle writes it: the module as the
    basic-auth app's authorization function, the stack's admins, the project number from
    the environment only."""

    def __init__(self, pod, container, stack):
        _, env, _, _ = pod.launch_plan(container)
        config = configparser.ConfigParser(interpolation=None)
        config.read(env[AUTH_CONFIG_ENV])
        function = config.get("mlflow", "authorization_function", fallback=None)
        if function != IAP_AUTHORIZATION_FUNCTION:
            raise Failure(f"basic_auth.ini: authorization_function = {function!r}, expected {IAP_AUTHORIZATION_FUNCTION}")
        section = config[IAP_SECTION]
        admins = sorted(a for a in re.split(r"[,\s]+", section.get("admins", "")) if a)
        wanted = sorted(stack["auth"].get("admins", []))
        if admins != wanted:
            raise Failure(f"basic_auth.ini: admins {admins}, the stack says {wanted}")
        if section.get("project_number"):
            raise Failure("basic_auth.ini sets project_number; it comes from the Secret infra.sh writes")
        self.admins = admins


def install_iap_module(bundle):
    """The module as the image's Dockerfile installs it: image/mlflow_stack_iap.py, checked
    against the sha256 the Dockerfile names, into site-packages. Returns the installed path."""
    source = bundle.dir / "image" / IAP_MODULE
    dockerfile = (bundle.dir / "image" / "Dockerfile").read_text()
    pinned = re.search(rf"printf '%s  %s\\n' ([0-9a-f]{{64}}) /tmp/{re.escape(IAP_MODULE)} \| sha256sum", dockerfile)
    if not pinned or f"install -m 0644 /tmp/{IAP_MODULE} " not in dockerfile:
        raise Failure(f"image/Dockerfile does not install {IAP_MODULE} checked by its sha256")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    if digest != pinned.group(1):
        raise Failure(f"image/{IAP_MODULE} has sha256 {digest}, the Dockerfile checks {pinned.group(1)}")
    target = Path(sysconfig.get_paths()["purelib"]) / IAP_MODULE
    shutil.copyfile(source, target)
    target.chmod(0o644)
    return target


def check_iap_refusals(port, iap, host, admin_password):
    """Straight at the server, as the load balancer would reach it with IAP off (Host and
    X-Forwarded-For as it sends them): every request but /health without a valid assertion
    gets 401, and each refused assertion's valid twin gets 200, so the refusal is about the
    assertion. The basic-auth admin's password is no way in through the load balancer."""
    url = f"http://127.0.0.1:{port}{HOST_CHECK_PATH}"
    through = {"Host": host, "X-Forwarded-For": iap_standin.FORWARDED_FOR}

    def status(assertion=None, headers=through, **kwargs):
        sent = {**headers, **({"x-goog-iap-jwt-assertion": assertion} if assertion else {})}
        return requests.get(url, headers=sent, timeout=30, **kwargs).status_code

    problems = []
    valid = status(iap.assertion(ANA))
    if valid != 200:
        problems.append(f"a valid assertion for {ANA} -> {valid} (expected 200)")
    cases = {
        "no header": None,
        "a wrong audience": iap.assertion(ANA, audience="/projects/999999999999/global/backendServices/4242424242"),
        "a wrong issuer": iap.assertion(ANA, issuer="https://accounts.google.com"),
        "an expired assertion": iap.assertion(ANA, lifetime=-120),
        "a tampered assertion": iap_standin.Iap.tampered(iap.assertion(BOB), BOSS),
        "a key IAP does not publish": iap.assertion(ANA, signer=iap_standin.Iap.foreign_signer()),
    }
    for what, assertion in cases.items():
        got = status(assertion)
        if got != 401:
            problems.append(f"{what} -> {got} (expected 401)")
    inside = {"Host": f"localhost:{port}"}  # a port-forward, or a caller in the cluster
    checks = [
        ("no header from inside the cluster", status(headers=inside), 401),
        ("the admin's password through the load balancer", status(auth=("admin", admin_password)), 401),
        ("the admin's password from inside the cluster (the collector)", status(headers=inside, auth=("admin", admin_password)), 200),
    ]
    health = requests.get(f"http://127.0.0.1:{port}/health", headers=through, timeout=30).status_code
    checks.append(("/health without an assertion", health, 200))
    problems += [f"{what} -> {got} (expected {wanted})" for what, got, wanted in checks if got != wanted]
    if problems:
        raise Failure("IAP refusals: " + "; ".join(problems))
    return (
        f"no header, {', '.join(list(cases)[1:])}: 401 (their valid twin 200); "
        "the admin's password 401 through the load balancer, 200 inside; /health 200"
    )


def check_iap_identities(proxy_url, issuer, client_id):
    """Through the stand-in IAP, each person with a Google ID token: Ana's experiment and
    run are hers (MANAGE), Bob (default_permission READ) reads her run and gets 403 writing
    to it, the admin (auth.admins) writes to it."""

    def call(email, method, path, **kwargs):
        token = issuer.token(email, client_id)
        return requests.request(
            method, proxy_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30, **kwargs
        )

    def ok(response, what):
        if response.status_code != 200:
            raise Failure(f"{what} -> {response.status_code}: {response.text[:300]!r}")
        return response.json()

    name = f"ana-{time.time_ns()}"
    experiment = ok(call(ANA, "POST", "/api/2.0/mlflow/experiments/create", json={"name": name}), f"{ANA} creates an experiment")["experiment_id"]
    run = ok(call(ANA, "POST", "/api/2.0/mlflow/runs/create", json={"experiment_id": experiment}), f"{ANA} creates a run")
    run_id = run["run"]["info"]["run_id"]
    metric = {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0}
    ok(call(ANA, "POST", "/api/2.0/mlflow/runs/log-metric", json=metric), f"{ANA} logs a metric")

    problems = []
    grants = ok(
        call(BOSS, "GET", "/api/3.0/mlflow/users/permissions/list", params={"username": ANA}),
        f"{BOSS} lists {ANA}'s permissions",
    )["permissions"]
    owned = {(g["resource_type"], g["resource_pattern"], g["permission"]) for g in grants}
    if ("experiment", experiment, "MANAGE") not in owned:
        problems.append(f"{ANA} does not own her experiment {experiment}: {sorted(owned)}")
    users = {
        email: ok(call(BOSS, "GET", "/api/2.0/mlflow/users/get", params={"username": email}), f"get user {email}")
        for email in (ANA, BOSS)
    }
    if users[ANA]["user"]["is_admin"] or not users[BOSS]["user"]["is_admin"]:
        problems.append(f"admin flags: {ANA} {users[ANA]['user']['is_admin']}, {BOSS} {users[BOSS]['user']['is_admin']}")
    read = call(BOB, "GET", "/api/2.0/mlflow/runs/get", params={"run_id": run_id})
    expect_status(problems, f"{BOB} (READ) reads {ANA}'s run", read, 200)
    written = call(BOB, "POST", "/api/2.0/mlflow/runs/log-metric", json={**metric, "key": "by_bob"})
    expect_status(problems, f"{BOB} (READ) logs a metric to {ANA}'s run", written, 403)
    promoted = call(BOB, "PATCH", "/api/2.0/mlflow/users/update-admin", json={"username": BOB, "is_admin": True})
    expect_status(problems, f"{BOB} makes himself an admin", promoted, 403)
    admin_write = call(BOSS, "POST", "/api/2.0/mlflow/runs/log-metric", json={**metric, "key": "by_boss"})
    expect_status(problems, f"{BOSS} (admin) logs a metric to {ANA}'s run", admin_write, 200)
    if problems:
        raise Failure("; ".join(problems))
    logged = ok(call(ANA, "GET", "/api/2.0/mlflow/runs/get", params={"run_id": run_id}), f"{ANA} reads her run")
    keys = sorted(m["key"] for m in logged["run"]["data"]["metrics"])
    if keys != ["by_boss", "loss"]:
        raise Failure(f"after Bob's refused and the admin's allowed write, {ANA}'s run has metrics {keys}")
    return (
        f"{ANA}'s experiment is hers (MANAGE), {BOB} (READ) reads her run and gets 403 writing to it "
        f"and making himself admin, {BOSS} (admin) writes to it"
    )


# --------------------------------------------------------------------------- the front door


class TlsFront:
    """The gateway's part: HTTPS for FRONT_DOOR_HOST with a self-signed certificate (made
    with openssl), terminated here; the bytes inside pass to the server's port unchanged,
    Host and Origin included. `target` is the port it passes to."""

    def __init__(self, work, target):
        self.target = target
        key, cert = work / "tls.key", work / "tls.crt"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert]
            + ["-days", "1", "-subj", f"/CN={FRONT_DOOR_HOST}", "-addext", f"subjectAltName=DNS:{FRONT_DOOR_HOST}"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.loop = asyncio.new_event_loop()
        self.server = None
        self.port = None
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True).start()
        if not started.wait(30):
            raise Failure("the TLS front did not start")

    def _run(self, started):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.context)
        )
        self.port = self.server.sockets[0].getsockname()[1]
        started.set()
        self.loop.run_forever()

    async def _handle(self, reader, writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return

        async def pump(source, sink):
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (OSError, ssl.SSLError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer), return_exceptions=True)

    def stop(self):
        def close():
            self.server.close()
            self.loop.stop()

        self.loop.call_soon_threadsafe(close)


def without_front_door_settings(container):
    """The container without --cors-allowed-origins and --uvicorn-opts: the server as a
    bundle without them would run it (the control)."""
    control = copy.deepcopy(container)
    control["args"] = [
        arg
        for arg in control.get("args", [])
        if not arg.startswith(("--cors-allowed-origins=", "--uvicorn-opts="))
    ]
    return control


def idle_connection_reused(port):
    """Two requests on one connection, IDLE_SECONDS apart, as a load balancer reuses its
    connections to a backend: (True, note) when the second is answered on the same
    connection, else (False, what happened)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Host": FRONT_DOOR_HOST}
    try:
        conn.request("GET", "/health", headers=headers)
        first = conn.getresponse()
        first.read()
        if first.status != 200:
            raise Failure(f"GET /health -> {first.status}")
        local = conn.sock.getsockname()
        time.sleep(IDLE_SECONDS)
        try:
            conn.request("GET", "/health", headers=headers)
            second = conn.getresponse()
            second.read()
        except (http.client.HTTPException, OSError) as error:
            return False, f"the server closed the connection idle for {IDLE_SECONDS} s: {error!r}"
        if conn.sock is None or conn.sock.getsockname() != local:
            return False, "the second request needed a new connection"
        if second.status != 200:
            return False, f"the second request on the idle connection -> {second.status}"
        return True, f"a connection idle for {IDLE_SECONDS} s was reused"
    finally:
        conn.close()


def check_big_artifact(server, gcs, config, work):
    """BIG_ARTIFACT_BYTES of random bytes up through the server's artifact proxy (PUT
    /api/2.0/mlflow-artifacts/artifacts/...), in the bucket at that size, and back down
    byte for byte (by SHA-256)."""
    source = work / "big-artifact.bin"
    digest = hashlib.sha256()
    with open(source, "wb") as f:
        for _ in range(BIG_ARTIFACT_BYTES // 2**20):
            chunk = os.urandom(2**20)
            digest.update(chunk)
            f.write(chunk)
    path = "e2e-front-door/big-artifact.bin"
    endpoint = f"/api/2.0/mlflow-artifacts/artifacts/{path}"
    started = time.monotonic()
    with open(source, "rb") as f:
        put = server.request("PUT", endpoint, host=FRONT_DOOR_HOST, data=f)
    if put.status_code != 200:
        raise Failure(f"PUT {endpoint} ({mib(BIG_ARTIFACT_BYTES)}) -> {put.status_code}: {put.text[:300]}")
    bucket, prefix = split_gs(config.artifact_root)
    blob = gcs.client().bucket(bucket).get_blob(f"{prefix}/{path}".lstrip("/"))
    if blob is None or blob.size != BIG_ARTIFACT_BYTES:
        raise Failure(f"gs://{bucket}/{prefix}/{path} holds {None if blob is None else blob.size} bytes")
    back = hashlib.sha256()
    received = 0
    with server.request("GET", endpoint, host=FRONT_DOOR_HOST, stream=True) as get:
        if get.status_code != 200:
            raise Failure(f"GET {endpoint} -> {get.status_code}")
        for chunk in get.iter_content(2**20):
            back.update(chunk)
            received += len(chunk)
    source.unlink()
    if back.hexdigest() != digest.hexdigest():
        raise Failure(f"{mib(BIG_ARTIFACT_BYTES)} up, {mib(received)} back with another SHA-256")
    return f"{mib(BIG_ARTIFACT_BYTES)} artifact up and back intact through the proxy in {time.monotonic() - started:.0f} s"


def experiments_named(server, prefix):
    found = server.request(
        "POST", "/api/2.0/mlflow/experiments/search", json={"max_results": 100, "filter": f"name LIKE '{prefix}%'"}
    )
    if found.status_code != 200:
        raise Failure(f"experiments/search -> {found.status_code}: {found.text[:200]}")
    return {e["name"]: e["experiment_id"] for e in found.json().get("experiments", [])}


def browser_session(front_port, credentials, screenshot, create_name, new_name):
    """Headless Chromium opens the UI at https://FRONT_DOOR_HOST (resolved to the TLS
    front), signs in, creates the experiment CREATE_NAME and renames it NEW_NAME through
    the UI. Returns the state-changing API responses it saw, as (method, path, status)."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    writes = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[f"--host-resolver-rules=MAP {FRONT_DOOR_HOST} 127.0.0.1:{front_port}"],
        )
        try:
            context = browser.new_context(
                ignore_https_errors=True,
                http_credentials={"username": credentials[0], "password": credentials[1]},
                viewport={"width": 1400, "height": 900},
            )
            context.set_default_timeout(BROWSER_TIMEOUT_MS)
            page = context.new_page()

            def seen(response):
                request = response.request
                if request.method in ("POST", "PUT", "PATCH", "DELETE") and "api/" in response.url:
                    writes.append((request.method, urllib.parse.urlparse(response.url).path, response.status))

            page.on("response", seen)
            try:
                ui_create_and_rename(page, create_name, new_name)
            except PlaywrightError as error:
                writes.append(("UI", str(error).splitlines()[0], None))
            finally:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return writes


def ui_create_and_rename(page, create_name, new_name):
    """The clicks a user makes in MLflow 3.17's UI: on the experiments page, Create, a name,
    Create; the UI opens the new experiment, whose menu has Edit experiment: the new name,
    Save. Stops after Create when the server refused it (the control)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(f"https://{FRONT_DOOR_HOST}/#/experiments", wait_until="load")
    page.get_by_test_id("create-experiment-button").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("textbox").first.fill(create_name)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/experiments/create")) as created:
        dialog.get_by_role("button", name="Create", exact=True).click()
    if created.value.status != 200:
        page.wait_for_timeout(1000)  # the dialog shows the refusal
        return
    page.wait_for_url(re.compile(r"#/experiments/[0-9]+"))
    # A first visit shows a hint whose overlay covers the page until dismissed.
    try:
        page.get_by_role("button", name="Got it").click(timeout=10_000)
    except PlaywrightTimeout:
        pass
    page.get_by_test_id("overflow-menu-trigger").click()
    page.get_by_test_id("mlflow.experiment_page.managementMenu.edit-experiment").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("textbox").first.fill(new_name)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/experiments/update")):
        dialog.get_by_role("button", name="Save", exact=True).click()
    page.get_by_role("link", name=new_name, exact=True).first.wait_for()  # the breadcrumb


# --------------------------------------------------------------------------- scenarios


def write_stack(path, stack):
    """A stack file with the given tables: top-level scalars first, then [tables]."""

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise ValueError(f"cannot write {v!r} as TOML")

    lines = [f"{k} = {value(v)}" for k, v in stack.items() if not isinstance(v, dict)]
    for table, entries in stack.items():
        if isinstance(entries, dict):
            lines += ["", f"[{table}]"] + [f"{k} = {value(v)}" for k, v in entries.items()]
    Path(path).write_text("\n".join(lines) + "\n")


def check_proxy_auth(bundle, stack):
    """database.auth = "iam" <=> the Cloud SQL Auth Proxy sidecar runs with --auto-iam-authn."""
    iam = (stack.get("database") or {}).get("auth", "password") == "iam"
    sidecars = [c for c in bundle.pod_spec.get("initContainers", []) if c.get("restartPolicy") == "Always"]
    proxy_iam = any("--auto-iam-authn" in (c.get("command", []) + c.get("args", [])) for c in sidecars)
    if iam != proxy_iam:
        raise Failure(
            f"database.auth is {'iam' if iam else 'password'} but the proxy sidecar {'lacks' if iam else 'has'} --auto-iam-authn"
        )


class ServerConfig:
    """What the `mlflow` container will use, read from its expanded args and env, with
    the checks that need no running server."""

    def __init__(self, pod, container, stack):
        argv, env, _, _ = pod.launch_plan(container)
        self.port = int(option_value(argv, env, "--port", "MLFLOW_PORT") or 5000)
        container_ports = [p["containerPort"] for p in container.get("ports", [])]
        if self.port not in container_ports:
            raise Failure(f"mlflow listens on port {self.port} but the container declares ports {container_ports}")
        self.user, self.database = self.parse_backend_uri(
            option_value(argv, env, "--backend-store-uri", "MLFLOW_BACKEND_STORE_URI")
        )
        self.serve_artifacts = not has_flag(argv, "--no-serve-artifacts")  # MLflow's default is to serve
        if self.serve_artifacts:
            self.artifact_root = option_value(argv, env, "--artifacts-destination", "MLFLOW_ARTIFACTS_DESTINATION")
        else:
            self.artifact_root = option_value(argv, env, "--default-artifact-root", "MLFLOW_DEFAULT_ARTIFACT_ROOT")
        wanted_serve = (stack.get("server") or {}).get("serve_artifacts", True)
        if wanted_serve != self.serve_artifacts:
            raise Failure(
                f"the stack says serve_artifacts = {str(wanted_serve).lower()}, the server args say otherwise: {argv}"
            )
        if not (self.artifact_root or "").startswith("gs://"):
            raise Failure(
                f"mlflow container: artifact location is {self.artifact_root!r}, expected gs://{stack['bucket']}/..."
            )
        self.bucket, _ = split_gs(self.artifact_root)
        if self.bucket != stack["bucket"]:
            raise Failure(f"artifacts go to bucket {self.bucket!r}, the stack says {stack['bucket']!r}")

    @staticmethod
    def parse_backend_uri(uri):
        """(user, database) of postgresql+psycopg2://USER@127.0.0.1:5432/DATABASE, which must
        point at the proxy's address and hold no password."""
        if not uri:
            raise Failure("mlflow container: no --backend-store-uri")
        parsed = urllib.parse.urlparse(uri)
        if not parsed.scheme.startswith("postgresql"):
            raise Failure(f"backend store URI {uri!r} is not PostgreSQL")
        if parsed.password is not None:
            raise Failure(f"backend store URI {uri!r} contains a password; it must come from PGPASSWORD")
        if (parsed.hostname, parsed.port) != (POSTGRES_HOST, POSTGRES_PORT):
            raise Failure(f"backend store URI {uri!r} does not point at the proxy on {POSTGRES_HOST}:{POSTGRES_PORT}")
        return urllib.parse.unquote(parsed.username or ""), parsed.path.lstrip("/")


class Scenario:
    """db_password None: the stack uses IAM database authentication (no password at all)."""

    def __init__(
        self,
        name,
        stack_file,
        db_password,
        restart=False,
        operations=False,
        switch_to=None,
        upgrade=False,
        front_door=False,
        iap=False,
    ):
        self.name = name
        self.stack_file = Path(stack_file)
        self.db_password = db_password
        self.restart = restart
        self.operations = operations  # metrics (garbage collection: any stack with [gc])
        # Another stack file on the same database: its login replaces this one's and back.
        self.switch_to = switch_to
        self.upgrade = upgrade  # start at PREVIOUS_MLFLOW, upgrade to the stack's version
        self.front_door = front_door  # behind a gateway, in a browser (run_front_door)
        self.iap = iap  # behind a stand-in for Identity-Aware Proxy (run_iap)


class Suite:
    def __init__(self, args, root, processes):
        self.args = args
        self.root = root
        self.processes = processes
        self.postgres = Postgres(processes, root)
        self.gcs = GcsEmulator(processes, root)
        self.bundles = {}

    def prepare(self, scenario):
        """What every scenario that runs a stack's server starts from: its work and logs
        directories, the stack file as TOML, its bundle, the pins of the bundle's image
        installed, and the server container of the bundle's Deployment."""
        work = self.root / "scenarios" / scenario.name
        logs = work / "logs"
        logs.mkdir(parents=True)
        with open(scenario.stack_file, "rb") as f:
            stack = tomllib.load(f)
        bundle = self.build_bundle(scenario.stack_file)
        install_pins(bundle.requirements, logs)
        return work, logs, stack, bundle, bundle.container("mlflow")

    def build_bundle(self, stack_file):
        stack_file = Path(stack_file)
        if stack_file in self.bundles:
            return self.bundles[stack_file]
        out = self.root / "bundles" / f"{stack_file.stem}-{len(self.bundles)}"
        out.parent.mkdir(exist_ok=True)
        if self.args.bundle and stack_file == Path(self.args.stack):
            bundle_dir = Path(self.args.bundle)
        else:
            result = subprocess.run(
                [self.args.compiler, "build", stack_file, "--out", out], capture_output=True, text=True, timeout=60
            )
            if result.returncode != 0:
                raise Failure(
                    f"mlflow-stack build {stack_file} failed ({result.returncode}):\n{result.stderr}{result.stdout}"
                )
            bundle_dir = out / stack_file.stem  # `build --out DIR` writes DIR/<stem>/
        self.bundles[stack_file] = Bundle(bundle_dir)
        return self.bundles[stack_file]

    def check_postgres_version(self):
        """The server runs the major version of the main bundle's Cloud SQL instance (infra.sh's
        --database-version), so the suite proves the bundle on the PostgreSQL users get."""
        infra = self.build_bundle(self.args.stack).dir / "infra.sh"
        versions = set(re.findall(r"--database-version=POSTGRES_(\d+)\b", infra.read_text()))
        if len(versions) != 1:
            raise Failure(f"{infra}: expected one --database-version=POSTGRES_N, found {sorted(versions)}")
        (cloud_sql,) = versions
        if int(cloud_sql) != major_version(self.postgres.version):
            raise Failure(f"PostgreSQL {self.postgres.version} runs, but the bundle's instance is POSTGRES_{cloud_sql}")
        print(
            f"e2e: PostgreSQL {self.postgres.version}, the major version of the bundle's Cloud SQL instance "
            f"(POSTGRES_{cloud_sql})"
        )

    def variant_stack(self, name, changes, stack_file=None):
        """STACK_FILE (the main stack by default) with CHANGES, written as stacks/NAME.toml."""
        with open(stack_file or self.args.stack, "rb") as f:
            stack = tomllib.load(f)
        for key, value in changes.items():
            if isinstance(value, dict):
                stack.setdefault(key, {}).update(value)
            else:
                stack[key] = value
        path = self.root / "stacks" / f"{name}.toml"
        path.parent.mkdir(exist_ok=True)
        write_stack(path, stack)
        return path

    def scenarios(self):
        main = Path(self.args.stack)
        client_artifacts = self.variant_stack(
            "client-artifacts",
            {
                "name": "tracking",  # also proves that names are derived, not hard-coded
                "namespace": "ml-platform",
                "server": {"serve_artifacts": False, "allowed_hosts": ["mlflow.acme.example"]},
                # The collector deletes gs:// artifacts itself, not through the server.
                "gc": {"older_than": "1s"},
            },
        )
        iam_auth = self.variant_stack("iam-auth", {"database": {"auth": "iam"}})
        operations = self.variant_stack(
            "operations", {"server": {"metrics": True}, "gc": {"schedule": "*/30 * * * *", "older_than": "1s"}}
        )
        basic_auth = self.variant_stack("basic-auth", {"auth": {"kind": "basic", "default_permission": "READ"}})
        front_door = self.variant_stack(
            "front-door",
            {
                "expose": {"type": "gateway", "host": FRONT_DOOR_HOST},
                "auth": {"kind": "basic", "default_permission": "READ"},
            },
        )
        # The repository's IAP stack, with an admin who is not Ana and READ for the others.
        iap = self.variant_stack(
            "iap",
            {"auth": {"admins": [f"user:{BOSS}"], "default_permission": "READ"}},
            REPO / "stacks" / "team.toml",
        )
        return [
            Scenario("example", main, PLAIN_DB_PASSWORD, restart=True),
            Scenario("special-password", main, SPECIAL_DB_PASSWORD),
            Scenario("client-artifacts", client_artifacts, PLAIN_DB_PASSWORD),
            Scenario("iam-auth", iam_auth, None),  # user name with '@', written %40 in the URI
            Scenario("operations", operations, PLAIN_DB_PASSWORD, operations=True),
            # The IAM user (a name with '@' and '.') owns the schema, the password user migrates it.
            Scenario("login-switch", iam_auth, None, switch_to=main),
            Scenario("basic-auth", basic_auth, PLAIN_DB_PASSWORD),  # two replicas of MLflow's basic-auth app
            Scenario("upgrade", main, PLAIN_DB_PASSWORD, upgrade=True),
            # Behind a gateway with basic auth: a browser, an idle connection, a big artifact.
            Scenario("front-door", front_door, PLAIN_DB_PASSWORD, front_door=True),
            # Google sign-in: the signed-in identity is the MLflow user, programs stay signed in.
            Scenario("iap", iap, PLAIN_DB_PASSWORD, iap=True),
        ]

    def previous_stack(self, stack_file=None, name="previous"):
        """STACK_FILE (the main stack by default) at the previous minor MLflow release."""
        return self.variant_stack(name, {"server": {"mlflow_version": PREVIOUS_MLFLOW}}, stack_file)

    def run(self, scenario):
        """One scenario, from an empty database and bucket. Returns (report line, seconds)."""
        if scenario.switch_to:
            return self.run_login_switch(scenario)
        if scenario.upgrade:
            return self.run_upgrade(scenario)
        if scenario.front_door:
            return self.run_front_door(scenario)
        if scenario.iap:
            return self.run_iap(scenario)
        started = time.monotonic()
        work, logs, stack, bundle, container = self.prepare(scenario)
        basic_auth = (stack.get("auth") or {}).get("kind") == "basic"
        pod_secrets = self.secrets_for(bundle, scenario.db_password)
        admin_password = None
        if basic_auth:
            auth_secrets, admin_password = auth_secrets_for(container)
            pod_secrets.update(auth_secrets)
        pod = Pod(bundle, self.processes, work, pod_secrets, {"STORAGE_EMULATOR_HOST": self.gcs.url})
        config = ServerConfig(pod, container, stack)
        auth = BasicAuthConfig(pod, container, stack, config, admin_password) if basic_auth else None
        check_proxy_auth(bundle, stack)

        # What infra.sh would have created: the database and its user, the bucket, and
        # with basic auth the user store's database.
        self.postgres.recreate_database(config.user, scenario.db_password, config.database)
        if auth:
            self.postgres.create_database(config.user, auth.database)
        self.gcs.empty_bucket(config.bucket)
        if port_is_open("127.0.0.1", config.port):
            raise Failure(f"port {config.port} is already in use")

        replicas = bundle.deployment["spec"].get("replicas", 1)
        init_results = pod.run_init_containers(logs, pods=replicas)
        if auth and not self.postgres.has_table(auth.database, "users"):
            raise Failure(f"the init containers did not migrate the user store {auth.database} before the server")
        server_proc = pod.start(container, logs / "mlflow.log")
        try:
            ready_after = pod.wait_ready(container, server_proc)  # the probes' /health without credentials
            server = Server(config.port, auth.credentials if auth else None)
            check_hosts(server, expected_hosts(bundle, container, stack))
            # The client needs the emulator only when it writes to the bucket itself.
            client_extra_env = {} if config.serve_artifacts else {"STORAGE_EMULATOR_HOST": self.gcs.url}
            run_id = run_train(self.processes, server, client_extra_env, logs / "train.log")
            run = check_run(server, run_id)
            model = logged_model_of(server, run)
            location = check_model_artifacts(
                self.processes, server, self.gcs, model, config.artifact_root, client_extra_env, logs / "load_model.log"
            )
            pss, limit = check_memory(container, server_proc)
            auth_note = ""
            if auth:
                auth_note = "; " + self.check_second_replica(pod, container, server, run_id, auth, logs)
            restart_note = ""
            if scenario.operations:
                counters = check_metrics(server, container, pod)
                restart_note += f", /metrics has {counters} request counters"
            if "gc" in stack:
                gc_note = check_gc(self.processes, bundle, work, pod_secrets, server, config, self.gcs, logs)
                restart_note += f", {gc_note}"
            if scenario.restart:
                stop_seconds = pod.stop_container(container, server_proc)
                pod.run_init_containers(logs)  # the migration again, on an up-to-date database
                server_proc = pod.start(container, logs / "mlflow-restarted.log")
                pod.wait_ready(container, server_proc)
                check_run(server, run_id)  # the earlier run survived the restart
                check_run(server, run_train(self.processes, server, client_extra_env, logs / "train-after-restart.log"))
                restart_note = f", restart ok (stopped in {stop_seconds:.0f} s)"
        except BaseException as error:
            attach_log(error, server_proc)
            raise
        finally:
            self.stop_server(pod, container, server_proc)

        migrate = ", ".join(
            f"{name} x{replicas} {secs:.0f} s/{mib(peak)}" for name, (secs, peak) in init_results.items()
        )
        summary = (
            f"ready in {ready_after:.0f} s, {migrate or 'no init containers'}, "
            f"server {mib(pss)} PSS{f' of {limit} limit' if limit else ' (no limit)'}, "
            f"model at {location}{restart_note}, containers ran as {pod.ran_as}{auth_note}"
        )
        if pod.note:
            summary += f" [{pod.note}]"
        return summary, time.monotonic() - started

    def run_front_door(self, scenario):
        """The server as a GKE gateway serves it, with basic auth: HTTPS for FRONT_DOOR_HOST
        (a TLS front stands in for the gateway), reached by headless Chromium through that
        name. First the control: the same container without the bundle's
        --cors-allowed-origins and --uvicorn-opts, where the UI's writes get 403 and an idle
        connection is closed. Then the container as generated: the browser signs in,
        creates an experiment and renames it through the UI (both checked in the REST API),
        a connection idle longer than uvicorn's default is reused, and a 200 MB artifact
        goes up and comes back intact through the artifact proxy. A screenshot of each
        browser session's last page is kept in the artifacts directory."""
        started = time.monotonic()
        work, logs, stack, bundle, container = self.prepare(scenario)
        pod_secrets = self.secrets_for(bundle, scenario.db_password)
        auth_secrets, admin_password = auth_secrets_for(container)
        pod_secrets.update(auth_secrets)
        pod = Pod(bundle, self.processes, work, pod_secrets, {"STORAGE_EMULATOR_HOST": self.gcs.url})
        config = ServerConfig(pod, container, stack)
        auth = BasicAuthConfig(pod, container, stack, config, admin_password)
        self.postgres.recreate_database(config.user, scenario.db_password, config.database)
        self.postgres.create_database(config.user, auth.database)
        self.gcs.empty_bucket(config.bucket)
        if port_is_open("127.0.0.1", config.port):
            raise Failure(f"port {config.port} is already in use")
        pod.run_init_containers(logs)
        server = Server(config.port, auth.credentials)
        front = TlsFront(work, config.port)
        artifacts = Path(self.args.artifacts)
        notes = []
        try:
            control = without_front_door_settings(container)
            proc = pod.start(control, logs / "mlflow-control.log")
            try:
                pod.wait_ready(control, proc)
                reused, how = idle_connection_reused(config.port)
                if reused:
                    raise Failure(f"control without --uvicorn-opts: {how}; the idle check cannot fail")
                writes = browser_session(
                    front.port, auth.credentials, artifacts / "front-door-control.png", "e2e-control", "e2e-control-renamed"
                )
                created = [w for w in writes if w[1].endswith("/experiments/create")]
                if not created or any(status != 403 for _, _, status in created):
                    raise Failure(f"control without --cors-allowed-origins: the UI's writes got {writes}, expected 403")
                if experiments_named(server, "e2e-control"):
                    raise Failure("control without --cors-allowed-origins: the UI created an experiment")
            except BaseException as error:
                attach_log(error, proc)
                raise
            finally:
                self.stop_server(pod, control, proc)
            notes.append(f"control without the settings: the UI's create got 403, {how}")

            proc = pod.start(container, logs / "mlflow.log")
            try:
                pod.wait_ready(container, proc)
                reused, how = idle_connection_reused(config.port)
                if not reused:
                    raise Failure(how)
                notes.append(how)
                screenshot = artifacts / "front-door.png"
                writes = browser_session(front.port, auth.credentials, screenshot, "e2e-browser", "e2e-browser-renamed")
                named = experiments_named(server, "e2e-browser")
                statuses = {path.rsplit("/", 2)[-1]: status for _, path, status in writes if status is not None}
                refused = [w for w in writes if w[2] in (None, 403)]
                done = statuses.get("create") == 200 and statuses.get("update") == 200
                if list(named) != ["e2e-browser-renamed"] or refused or not done:
                    raise Failure(f"the browser's writes {writes} left experiments {named}")
                notes.append(
                    f"Chromium signed in at https://{FRONT_DOOR_HOST}, created and renamed experiment "
                    f"{named['e2e-browser-renamed']} through the UI (screenshot {screenshot})"
                )
                notes.append(check_big_artifact(server, self.gcs, config, work))
            except BaseException as error:
                attach_log(error, proc)
                raise
            finally:
                self.stop_server(pod, container, proc)
        finally:
            front.stop()
        print(f"e2e: front-door screenshots in {artifacts}")
        return "; ".join(notes), time.monotonic() - started

    def run_iap(self, scenario):
        """The server of an iap stack as generated (the basic-auth app with the bundle's
        basic_auth.ini, mlflow_stack_iap installed from the bundle's image/ as its
        Dockerfile does, the project number from the Secret infra.sh writes), trusting
        only the stand-in IAP's key (keys_url, added by the suite to the mounted file).
        check_iap_refusals straight at the server; then, through the stand-in IAP,
        check_iap_identities, and a client with the package of client/
        (MLFLOW_TRACKING_AUTH=iap, ID tokens from a stand-in metadata server) logging a
        metric every second for longer than two 20-second tokens: no write fails, and
        the token was renewed."""
        started = time.monotonic()
        work, logs, stack, bundle, container = self.prepare(scenario)
        pod_secrets = self.secrets_for(bundle, scenario.db_password)
        auth_secrets, admin_password = auth_secrets_for(container)
        pod_secrets.update(auth_secrets)
        pod_secrets.update(iap_project_secret(container))
        iap = iap_standin.Iap(E2E_BACKEND_AUDIENCE)
        keys = iap_standin.KeyServer(iap)
        issuer = iap_standin.TokenIssuer()
        metadata = iap_standin.MetadataServer(issuer, CI_TRAINER)
        proxy = module = proc = None
        notes = []
        try:
            trusted = trusting_test_keys(bundle, container, keys.url)
            pod = Pod(trusted, self.processes, work, pod_secrets, {"STORAGE_EMULATOR_HOST": self.gcs.url})
            config = ServerConfig(pod, container, stack)
            auth = BasicAuthConfig(pod, container, stack, config, admin_password)
            IapConfig(pod, container, stack)
            module = install_iap_module(bundle)
            self.postgres.recreate_database(config.user, scenario.db_password, config.database)
            self.postgres.create_database(config.user, auth.database)
            self.gcs.empty_bucket(config.bucket)
            if port_is_open("127.0.0.1", config.port):
                raise Failure(f"port {config.port} is already in use")
            pod.run_init_containers(logs, pods=bundle.deployment["spec"].get("replicas", 1))
            if not self.postgres.has_table(auth.database, "users"):
                raise Failure(f"the init containers did not migrate the user store {auth.database} before the server")
            proc = pod.start(container, logs / "mlflow.log")
            try:
                ready = pod.wait_ready(container, proc)  # the probes' /health, without an assertion
                host = stack["expose"]["host"]
                notes.append(f"ready in {ready:.0f} s")
                notes.append(check_iap_refusals(config.port, iap, host, admin_password))
                client_id = stack["auth"]["oauth_client_id"]
                proxy = iap_standin.IapProxy(iap, issuer, client_id, f"127.0.0.1:{config.port}", host)
                notes.append(check_iap_identities(proxy.url, issuer, client_id))
                notes.append(self.check_iap_client(work, logs, proxy, issuer, metadata, client_id))
                if proxy.refused:
                    raise Failure(f"the stand-in IAP refused {len(proxy.refused)} requests: {proxy.refused[:3]}")
            except BaseException as error:
                attach_log(error, proc)
                raise
            finally:
                self.stop_server(pod, container, proc)
        finally:
            for server in (proxy, metadata, keys):
                if server is not None:
                    server.stop()
            if module is not None:
                module.unlink(missing_ok=True)
        return "; ".join(notes), time.monotonic() - started

    def check_iap_client(self, work, logs, proxy, issuer, metadata, client_id):
        """A training job's client on GKE: MLflow with the package of client/
        (MLFLOW_TRACKING_AUTH=iap), its service account's ID tokens from the metadata
        server, through the stand-in IAP, one metric a second for IAP_CLIENT_WRITES
        seconds, with no retries (a 401 for a stale token would be a failed write)."""
        home = work / "client-home"
        home.mkdir()
        stop_file = work / "stop-iap-client"
        env = {
            "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "MLFLOW_TRACKING_URI": proxy.url,
            "MLFLOW_TRACKING_AUTH": "iap",
            "MLFLOW_IAP_AUDIENCE": client_id,
            "GCE_METADATA_HOST": metadata.host,
            "GCE_METADATA_IP": metadata.host,
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        }
        writer = self.processes.start(
            [sys.executable, WRITER_SCRIPT, stop_file, "1"], log_path=logs / "iap-client.log", env=env, cwd=work
        )
        def enough():
            if writer.poll() is not None:
                raise Failure(f"the IAP client exited with {writer.returncode}:\n{log_tail(writer.log_path)}")
            ok, failed, _ = self.writes(writer)
            if failed:
                raise Failure(f"{len(failed)} of the IAP client's writes failed, after {len(ok)} that did: {failed[:2]}")
            return len(ok) >= IAP_CLIENT_WRITES

        try:
            first = time.monotonic()
            wait_until(f"{IAP_CLIENT_WRITES} writes of the IAP client", IAP_CLIENT_WRITES * 4, enough)
            seconds = time.monotonic() - first
            stop_file.touch()
            if writer.wait(timeout=60) != 0:
                raise Failure(f"the IAP client exited with {writer.returncode}:\n{log_tail(writer.log_path)}")
        finally:
            self.processes.stop(writer, grace_seconds=1)
        ok, failed, slowest = self.writes(writer)
        if failed:
            raise Failure(f"{len(failed)} of the IAP client's writes failed: {failed[:3]}")
        tokens = len(proxy.tokens.get(CI_TRAINER, ()))
        if seconds <= 2 * iap_standin.TOKEN_LIFETIME_SECONDS or tokens < 3:
            raise Failure(
                f"the IAP client wrote for {seconds:.0f} s with {tokens} ID tokens: the proof needs more than "
                f"{2 * iap_standin.TOKEN_LIFETIME_SECONDS} s and a token renewed twice"
            )
        run_id = lines_starting(writer.log_path, "run_id:")[0]
        boss = issuer.token(BOSS, client_id)
        history = requests.get(
            proxy.url + "/api/2.0/mlflow/metrics/get-history",
            params={"run_id": run_id, "metric_key": "step"},
            headers={"Authorization": f"Bearer {boss}"},
            timeout=30,
        )
        stored = sorted(int(m["step"]) for m in history.json().get("metrics", [])) if history.ok else history.status_code
        if stored != sorted(ok):
            raise Failure(f"the server holds steps {stored}, the IAP client wrote {sorted(ok)}")
        return (
            f"a client with MLFLOW_TRACKING_AUTH=iap wrote {len(ok)} times in {seconds:.0f} s as {CI_TRAINER}, "
            f"0 failed (slowest {slowest:.1f} s), with {tokens} ID tokens of {iap_standin.TOKEN_LIFETIME_SECONDS} s"
        )

    def pod_of(self, stack_file, password, work, venv_bin=VENV_BIN):
        """The pod of STACK_FILE's bundle, its `mlflow` container and what that will use."""
        with open(stack_file, "rb") as f:
            stack = tomllib.load(f)
        bundle = self.build_bundle(stack_file)
        container = bundle.container("mlflow")
        pod = Pod(
            bundle,
            self.processes,
            work,
            self.secrets_for(bundle, password),
            {"STORAGE_EMULATOR_HOST": self.gcs.url},
            venv_bin=venv_bin,
        )
        return pod, container, ServerConfig(pod, container, stack)

    def serve(self, pod, container, config, logs, label, action):
        """The init containers (the migration), then the server; ACTION(server, client
        env) while it runs. Returns what ACTION returns."""
        pod.run_init_containers(logs)
        proc = pod.start(container, logs / f"mlflow-{label}.log")
        try:
            pod.wait_ready(container, proc)
            client_env = {} if config.serve_artifacts else {"STORAGE_EMULATOR_HOST": self.gcs.url}
            return action(Server(config.port), client_env)
        except BaseException as error:
            error.server_log = proc.log_path
            raise
        finally:
            if proc.poll() is None:
                pod.stop_container(container, proc)
            self.processes.stop(proc, grace_seconds=1)

    def run_login_switch(self, scenario):
        """`database.auth` switched on one database and back, as infra.sh does it, across
        an MLflow upgrade. The IAM user (a name with '@' and '.') creates the schema at
        PREVIOUS_MLFLOW; the password user is then created a member of it (`gcloud sql
        users create mlflow ... --database-roles=cloudsqlsuperuser,IAM_USER`; Cloud SQL
        runs the GRANT, here the superuser does). Without the membership it may not even
        read the tables (the control); with it, the new version's `migrate` upgrades the
        schema as the schema's owner, so every table and sequence in public, the
        upgrade's new ones included, still belongs to the IAM user. The password user's
        server reads and writes; after the switch back, the IAM user's server reads both
        runs and writes."""
        started = time.monotonic()
        work = self.root / "scenarios" / scenario.name
        logs = work / "logs"
        for label in ("iam-previous", "password-refused", "password-no-set", "password", "iam-again"):
            (logs / label).mkdir(parents=True)
        previous_bin = Path(self.args.previous_venv) / "bin"
        previous_stack = self.previous_stack(scenario.stack_file, "previous-iam")
        previous = self.pod_of(previous_stack, scenario.db_password, work / "previous", previous_bin)
        old = self.pod_of(scenario.stack_file, scenario.db_password, work / "iam")
        new = self.pod_of(scenario.switch_to, PLAIN_DB_PASSWORD, work / "password")
        owner, login, database = old[2].user, new[2].user, old[2].database
        if database != new[2].database or previous[2].user != owner:
            raise Failure(f"the stacks use databases {database} and {new[2].database}")
        self.postgres.recreate_database(owner, scenario.db_password, database)
        self.gcs.empty_bucket(old[2].bucket)

        def train(server, env, label, python=sys.executable):
            return run_train(self.processes, server, env, logs / label / "train.log", python)

        first = self.serve(
            *previous,
            logs / "iam-previous",
            "iam-previous",
            lambda server, env: train(server, env, "iam-previous", previous_bin / "python"),
        )
        before = self.relations(database)

        self.postgres.recreate_login(login, PLAIN_DB_PASSWORD)
        denied = self.as_login(login, database, "SELECT count(*) FROM experiments", PLAIN_DB_PASSWORD)
        if not isinstance(denied, psycopg2.errors.InsufficientPrivilege):
            raise Failure(f"{login}, no member of {owner}, read its tables: {denied!r}")
        self.check_migration_refused(new[0], logs / "password-refused", owner, login)
        if self.relations(database) != before:
            raise Failure(f"the refused migration of {login} changed the tables")
        # A membership without SET (PostgreSQL 16 and later) is refused too, naming its fix.
        self.grant(owner, login, "WITH SET FALSE")
        self.check_migration_refused(new[0], logs / "password-no-set", owner, login, " WITH SET TRUE")
        if self.relations(database) != before:
            raise Failure(f"the refused migration of {login} changed the tables")
        self.grant(owner, login, "WITH SET TRUE")
        altered = self.as_login(login, database, "ALTER TABLE runs ADD COLUMN e2e_probe integer", PLAIN_DB_PASSWORD)
        if altered is not None:
            raise Failure(f"{login}, a member of {owner}, may not alter its table runs: {altered!r}")

        def after_switch(server, env):
            check_run(server, first)
            return train(server, env, "password")

        second = self.serve(*new, logs / "password", "password", after_switch)
        after = self.relations(database)
        created = sorted(set(after) - set(before))
        if not created:
            raise Failure(f"the upgrade from MLflow {PREVIOUS_MLFLOW} created no table or sequence to check")
        foreign = sorted((name, role) for name, role in after.items() if role != owner)
        if foreign:
            raise Failure(f"after {login}'s upgrade, {len(foreign)} not owned by {owner}: {foreign[:6]}")

        def after_switch_back(server, env):
            check_run(server, first)
            check_run(server, second)
            return train(server, env, "iam-again")

        third = self.serve(*old, logs / "iam-again", "iam-again", after_switch_back)
        summary = (
            f"{login} without membership in {owner}: permission denied on its tables; granted without "
            "SET: migrate refused, naming GRANT ... WITH SET TRUE; as a member it "
            f"upgraded MLflow {PREVIOUS_MLFLOW}'s schema as {owner} ({len(created)} new tables and "
            f"sequences, all {len(after)} in public owned by {owner}), read run {first[:8]}, wrote run "
            f"{second[:8]} and altered a table; {owner} read both and wrote run {third[:8]} after the "
            "switch back"
        )
        return summary, time.monotonic() - started

    def grant(self, owner, login, options):
        admin = self.postgres.connect("postgres")
        try:
            with admin.cursor() as cur:
                cur.execute(
                    sql.SQL("GRANT {} TO {} " + options).format(sql.Identifier(owner), sql.Identifier(login))
                )
        finally:
            admin.close()

    @staticmethod
    def check_migration_refused(pod, logs, owner, login, options=""):
        """The pod's `migrate`, logged in as LOGIN that may not act as OWNER, stops before
        migrating and names the GRANT (with OPTIONS) that fixes it."""
        try:
            pod.run_init_containers(logs)
        except Failure:
            log = Path(logs / "migrate-pod0.log").read_text(errors="replace")
            grant = f"GRANT {quote_ident(owner)} TO {quote_ident(login)}{options};"
            if grant not in log:
                raise Failure(f"migrate refused {login} without naming {grant}:\n{log[-2000:]}") from None
            return
        raise Failure(f"migrate ran as {login}, no member of {owner}, the owner of the schema")

    def relations(self, database):
        """{name: owner} of every table and sequence in schema public."""
        conn = self.postgres.connect(database)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S')"
                )
                return dict(cur.fetchall())
        finally:
            conn.close()

    def as_login(self, login, database, statement, password=None):
        """Runs STATEMENT as LOGIN (with PASSWORD, or trusted as an IAM user behind the
        proxy) and rolls it back. Returns the error, or None."""
        try:
            conn = psycopg2.connect(
                host=POSTGRES_HOST, port=POSTGRES_PORT, user=login, password=password, dbname=database, connect_timeout=5
            )
        except psycopg2.Error as error:
            raise Failure(f"{login} cannot connect: {error}") from error
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
            return None
        except psycopg2.Error as error:
            return error
        finally:
            conn.rollback()
            conn.close()

    def check_second_replica(self, pod, container, server, run_id, auth, logs):
        """A second replica of the basic-auth server next to the first (same databases, same
        Secrets), then check_basic_auth against both. Returns its summary."""
        replica = with_port(container, free_port())
        port = replica["ports"][0]["containerPort"]
        proc = pod.start(replica, logs / "mlflow-replica.log")
        try:
            pod.wait_ready(replica, proc)
            return check_basic_auth(server, Server(port, auth.credentials), run_id, auth.default_permission)
        except BaseException as error:
            attach_log(error, proc)
            raise
        finally:
            self.stop_server(pod, replica, proc)

    def stop_server(self, pod, container, proc):
        """Stops a server container as the kubelet does, if it still runs, then its process group."""
        if proc.poll() is None:
            pod.stop_container(container, proc)
        self.processes.stop(proc, grace_seconds=1)

    def run_upgrade(self, scenario):
        """From PREVIOUS_MLFLOW to the stack's MLflow on one database, the way the new
        bundle's Deployment strategy rolls it out, while a client writes throughout.
        Recreate: the old pod is stopped (preStop, SIGTERM) before the new pod's `migrate`
        runs. Checks: no write fails (MLflow's client retries through the gap), every
        write is in the upgraded server, and MLflow's own refusal that makes the old pods
        stop first: the previous release does not start on the upgraded schema."""
        started = time.monotonic()
        work = self.root / "scenarios" / scenario.name
        logs = work / "logs"
        for directory in (logs / "old", logs / "new"):
            directory.mkdir(parents=True)
        with open(scenario.stack_file, "rb") as f:
            stack = tomllib.load(f)
        new_bundle = self.build_bundle(scenario.stack_file)
        old_bundle = self.build_bundle(self.previous_stack())
        strategy = new_bundle.deployment["spec"].get("strategy", {}).get("type", "RollingUpdate")
        container = new_bundle.container("mlflow")
        previous_bin = Path(self.args.previous_venv) / "bin"
        secrets = self.secrets_for(new_bundle, scenario.db_password)
        extra_env = {"STORAGE_EMULATOR_HOST": self.gcs.url}
        old_pod = Pod(old_bundle, self.processes, work / "old-pod", secrets, extra_env, venv_bin=previous_bin)
        new_pod = Pod(new_bundle, self.processes, work / "new-pod", secrets, extra_env)
        config = ServerConfig(new_pod, container, stack)
        self.postgres.recreate_database(config.user, scenario.db_password, config.database)
        self.gcs.empty_bucket(config.bucket)
        server = Server(config.port)

        old_pod.run_init_containers(logs / "old")
        old_proc = old_pod.start(old_bundle.container("mlflow"), logs / "mlflow-old.log")
        new_proc = writer = None
        try:
            old_pod.wait_ready(old_bundle.container("mlflow"), old_proc)
            old_version = self.server_version(server)
            if old_version != PREVIOUS_MLFLOW:
                raise Failure(f"the old server runs MLflow {old_version}, expected {PREVIOUS_MLFLOW}")
            stop_file = work / "stop-writing"
            writer = self.processes.start(
                [sys.executable, WRITER_SCRIPT, stop_file],
                log_path=logs / "writer.log",
                env=client_env(server, {}),
                cwd=work,
            )
            self.wait_for_writes(writer, UPGRADE_WRITES)
            upgrade_started = time.monotonic()
            if strategy == "Recreate":
                old_pod.stop_container(old_bundle.container("mlflow"), old_proc)
                new_pod.run_init_containers(logs / "new")
                new_proc = new_pod.start(container, logs / "mlflow-new.log")
                new_pod.wait_ready(container, new_proc)
            else:
                raise Failure(f"the upgrade scenario knows Recreate, not {strategy}")
            gap = time.monotonic() - upgrade_started
            new_version = self.server_version(server)
            if new_version == PREVIOUS_MLFLOW:
                raise Failure(f"the server still runs MLflow {new_version} after the upgrade")
            self.wait_for_writes(writer, 2 * UPGRADE_WRITES)
            stop_file.touch()
            if writer.wait(timeout=300) != 0:
                raise Failure(f"the writing client exited with {writer.returncode}:\n{log_tail(writer.log_path)}")
            ok, failed, slowest = self.writes(writer)
            if failed:
                raise Failure(f"{len(failed)} writes failed during the upgrade: {failed[:3]}")
            run_id = lines_starting(writer.log_path, "run_id:")[0]
            history = server.get_json("/api/2.0/mlflow/metrics/get-history", run_id=run_id, metric_key="step")
            stored = sorted(int(m["step"]) for m in history.get("metrics", []))
            if stored != sorted(ok):
                raise Failure(f"the upgraded server holds steps {stored[:5]}…, the client wrote {sorted(ok)[:5]}…")
            refusal = self.previous_refuses_new_schema(old_bundle, old_pod, logs)
        except BaseException as error:
            error.server_log = (new_proc or old_proc).log_path
            raise
        finally:
            for pod, proc, name in ((old_pod, old_proc, old_bundle), (new_pod, new_proc, new_bundle)):
                if proc is not None and proc.poll() is None:
                    pod.stop_container(name.container("mlflow"), proc)
                if proc is not None:
                    self.processes.stop(proc, grace_seconds=1)
            if writer is not None:
                self.processes.stop(writer, grace_seconds=1)
        summary = (
            f"{strategy} from MLflow {old_version} to {new_version} in {gap:.0f} s; "
            f"{len(ok)} writes, 0 failed (slowest {slowest:.0f} s, retried through the gap); {refusal}"
        )
        return summary, time.monotonic() - started

    @staticmethod
    def server_version(server):
        response = server.get("/version")
        if response.status_code != 200:
            raise Failure(f"GET /version -> {response.status_code}")
        return response.text.strip()

    @staticmethod
    def writes(writer):
        """(steps written, failure lines, slowest successful write in seconds)."""
        lines = Path(writer.log_path).read_text(errors="replace").splitlines()
        ok = [line.split() for line in lines if line.startswith("ok ")]
        failed = [line for line in lines if line.startswith("failed ")]
        return [int(f[1]) for f in ok], failed, max((float(f[3]) for f in ok), default=0.0)

    def wait_for_writes(self, writer, count, timeout=300):
        def enough():
            if writer.poll() is not None:
                raise Failure(f"the writing client exited with {writer.returncode}:\n{log_tail(writer.log_path)}")
            return len(self.writes(writer)[0]) >= count

        wait_until(f"{count} successful writes", timeout, enough)

    def previous_refuses_new_schema(self, old_bundle, old_pod, logs):
        """MLflow verifies at start that the schema is exactly its own (_verify_schema): the
        previous release's server exits on the upgraded database instead of serving."""
        container = old_bundle.container("mlflow")
        proc = old_pod.start(container, logs / "mlflow-old-on-new-schema.log")
        try:
            status = proc.wait(timeout=READINESS_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise Failure(f"MLflow {PREVIOUS_MLFLOW} kept running on the upgraded schema") from None
        finally:
            self.processes.stop(proc, grace_seconds=1)
        text = Path(proc.log_path).read_text(errors="replace")
        if status == 0 or "out-of-date database schema" not in text:
            raise Failure(f"MLflow {PREVIOUS_MLFLOW} on the upgraded schema exited with {status}:\n{log_tail(proc.log_path)}")
        return f"MLflow {PREVIOUS_MLFLOW} refuses the upgraded schema (exit {status}: out-of-date database schema)"

    @staticmethod
    def secrets_for(bundle, password):
        """The Secret values infra.sh would create: the database password, found through the
        secretKeyRef behind PGPASSWORD, or the key a PGPASSFILE points into (as a pgpass file)."""
        secrets = {}
        spec = bundle.pod_spec
        containers = [c for c in spec.get("initContainers", []) if c.get("restartPolicy") != "Always"] + spec.get(
            "containers", []
        )
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in containers:
            for item in c.get("env", []):
                ref = (item.get("valueFrom") or {}).get("secretKeyRef")
                if item["name"] == "PGPASSWORD" and ref:
                    secrets.setdefault(ref["name"], {})[ref["key"]] = password
                if item["name"] == "PGPASSFILE" and "value" in item:
                    for m in c.get("volumeMounts", []):
                        secret = volumes.get(m["name"], {}).get("secret")
                        if secret and item["value"].startswith(m["mountPath"].rstrip("/") + "/"):
                            path = item["value"][len(m["mountPath"].rstrip("/")) + 1 :]
                            key = next((i["key"] for i in secret.get("items", []) if i["path"] == path), path)
                            secrets.setdefault(secret["secretName"], {})[key] = pgpass_line(password)
        if password is not None and not secrets:
            raise Failure(
                "no container gets the database password (PGPASSWORD from a secretKeyRef, or PGPASSFILE in a secret volume)"
            )
        if password is None and secrets:
            raise Failure(f"IAM database auth, yet containers read a database password from {sorted(secrets)}")
        return secrets


def attach_log(error, proc):
    """Names the log of the server process `proc` for print_server_log, unless an inner
    server (a second replica) already named its own."""
    if not getattr(error, "server_log", None):
        error.server_log = proc.log_path


def print_server_log(error):
    if getattr(error, "server_log", None):
        print(f"--- tail of the mlflow server log {error.server_log} ---", file=sys.stderr)
        print(log_tail(error.server_log, 60), file=sys.stderr)


def build_previous_bundle(args):
    """The bundle of --stack at PREVIOUS_MLFLOW, written to DIR/previous, as the upgrade
    scenario builds it (run.sh installs its requirements into .venv-e2e-previous)."""
    out = Path(args.previous_bundle)
    out.mkdir(parents=True, exist_ok=True)
    suite = Suite(argparse.Namespace(**{**vars(args), "bundle": None}), out, None)
    stack = suite.previous_stack()
    result = subprocess.run([args.compiler, "build", stack, "--out", out], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        print(result.stderr + result.stdout, file=sys.stderr)
    return result.returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--compiler", default=str(REPO / "target" / "release" / "mlflow-stack"), help="mlflow-stack binary"
    )
    parser.add_argument("--stack", default=str(REPO / "stacks" / "example.toml"), help="the main stack file")
    parser.add_argument("--bundle", help="an already built bundle of --stack (run.sh passes the one it built)")
    parser.add_argument("--only", action="append", help="run only the named scenario(s)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data) even on success")
    parser.add_argument(
        "--artifacts",
        default=os.environ.get("E2E_ARTIFACTS", str(REPO / "target" / "e2e-artifacts")),
        help="where the suite keeps what CI should keep (the browser's screenshots)",
    )
    parser.add_argument("--pgid-file", default=os.environ.get("E2E_PGID_FILE"), help="append process group ids here")
    parser.add_argument(
        "--previous-venv", default=str(REPO / ".venv-e2e-previous"), help=f"a venv with MLflow {PREVIOUS_MLFLOW}"
    )
    parser.add_argument(
        "--previous-bundle",
        metavar="DIR",
        help=f"only build the bundle of --stack at MLflow {PREVIOUS_MLFLOW} into DIR/previous (for run.sh) and exit",
    )
    args = parser.parse_args()
    if args.previous_bundle:
        return build_previous_bundle(args)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    started = time.monotonic()
    setup_seconds = time.time() - float(os.environ["E2E_STARTED"]) if os.environ.get("E2E_STARTED") else 0.0
    root = Path(tempfile.mkdtemp(prefix="mlflow-e2e-"))
    root.chmod(0o755)  # the postgres user and the pod's runAsUser must traverse it
    processes = Processes(args.pgid_file)
    suite = Suite(args, root, processes)
    passed, failed = [], []
    try:
        scenarios = suite.scenarios()
        unknown = set(args.only or []) - {scenario.name for scenario in scenarios}
        if unknown:
            raise Failure(f"no scenario named {sorted(unknown)}; there are {[s.name for s in scenarios]}")
        suite.postgres.start()
        suite.check_postgres_version()
        suite.gcs.start()
        for scenario in scenarios:
            if args.only and scenario.name not in args.only:
                continue
            if time.monotonic() - started > SUITE_DEADLINE_SECONDS:
                failed.append(scenario.name)
                print(
                    f"FAIL {scenario.name}: suite deadline of {SUITE_DEADLINE_SECONDS} s passed before it started",
                    file=sys.stderr,
                )
                continue
            try:
                summary, seconds = suite.run(scenario)
                passed.append(scenario.name)
                print(f"ok   {scenario.name} ({seconds:.0f} s): {summary}")
            except Failure as e:
                failed.append(scenario.name)
                print(f"FAIL {scenario.name}: {e}", file=sys.stderr)
                print_server_log(e)
            except Exception as e:
                failed.append(scenario.name)
                print(f"FAIL {scenario.name}: harness error\n{traceback.format_exc()}", file=sys.stderr)
                print_server_log(e)
    except Failure as e:
        print(f"FAIL setup: {e}", file=sys.stderr)
        failed.append("setup")
    except Interrupted as e:
        print(f"FAIL interrupted: {e}", file=sys.stderr)
        failed.append("interrupted")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        processes.stop_all()
    if failed or args.keep:
        print(f"e2e: logs and data kept in {root}", file=sys.stderr)
    else:
        shutil.rmtree(root, ignore_errors=True)
    seconds = setup_seconds + time.monotonic() - started
    print(f"e2e: scenarios {', '.join(passed + failed)} in {seconds:.0f} s")
    print(f"e2e: {len(passed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
