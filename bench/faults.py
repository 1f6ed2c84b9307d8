"""Fault and abuse suite: the demo shop on PostgreSQL + Redis, attacked and broken on purpose.

Starts what it needs itself: a throw-away PostgreSQL database (``bench_faults``), the demo
data, gunicorn servers on loopback (against the real Redis, a refused port, or a black-hole
listener that accepts connections and never answers), then scripts each scenario and prints
one line per scenario and a closing line ``faults: N survived, N failed``. Exit status 1 when
any scenario failed. Every request goes to 127.0.0.1; every loop is bounded.

Usage::

    .venv/bin/python bench/faults.py                      # all scenarios
    .venv/bin/python bench/faults.py --only bots,retried   # a subset (names contain these words)
    FAULTS_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_faults \\
    FAULTS_REDIS_URL=redis://127.0.0.1:6379/11 .venv/bin/python bench/faults.py
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("FAULTS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_faults")
REDIS_URL = os.environ.get("FAULTS_REDIS_URL", "redis://127.0.0.1:6379/11")
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
SERVER_START_TIMEOUT = 60.0
REQUEST_TIMEOUT = 15.0

import requests  # noqa: E402  (after sys.path: the script runs from a checkout)


# --- infrastructure ---------------------------------------------------------------------------


class BlackHole:
    """A TCP listener that accepts every connection and never sends a byte (a hung Redis)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="black-hole", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                continue
            self.held.append(conn)  # kept open, never read, never answered

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        for conn in self.held:
            conn.close()
        self.sock.close()


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    """Direct children of one of our own processes (gunicorn's workers), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may contain spaces, so split after the last ')'
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


@dataclass
class Server:
    """gunicorn serving the demo shop on loopback (2 workers x 4 threads, like a small store)."""

    name: str
    redis_url: str
    workdir: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / f"server-{self.name}.log"

    @property
    def app_log(self) -> Path:
        return self.workdir / f"personalize-{self.name}.log"

    def start(self) -> "Server":
        self.port = free_port()
        env = {
            **os.environ,
            **server_env(self.workdir),
            "FAULTS_REDIS_URL": self.redis_url,
            "FAULTS_LOG": str(self.app_log),
            **self.env_extra,
        }
        command = [
            sys.executable, "-m", "gunicorn", "demo_shop.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}", "--workers", "2", "--threads", "4",
            "--timeout", "20", "--graceful-timeout", "2", "--log-level", "warning",
        ]  # fmt: skip
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server {self.name} exited with {self.process.returncode}: {self.tail()}")
            try:
                requests.get(self.base + "/admin/login/", timeout=2)
                return self
            except requests.RequestException:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"server {self.name} did not answer within {SERVER_START_TIMEOUT:.0f} s: {self.tail()}")

    def workers(self) -> list[int]:
        return child_pids(self.process.pid) if self.process else []

    def tail(self, lines: int = 15) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def errors(self) -> list[str]:
        """Tracebacks gunicorn or Django logged (500s, crashed workers)."""
        text = ""
        for path in (self.log, self.app_log):
            try:
                text += path.read_text(errors="replace")
            except OSError:
                pass
        return [line for line in text.splitlines() if "Traceback" in line or "Internal Server Error" in line]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # our own session only
            self.process.wait()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def server_env(workdir: Path) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "bench.faults_settings",
        "DATABASE_URL": DATABASE_URL,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DEMO_VAR_DIR": str(workdir / "var"),
        "CELERY_BROKER_URL": "",
        "PYTHONPATH": str(ROOT),
    }


SECRET_KEY = "faults-" + secrets.token_urlsafe(40)


# --- HTTP helpers -------------------------------------------------------------------------------


class Browser(requests.Session):
    """A client that keeps its cookies, like a browser (or a script that pretends to be one)."""

    def __init__(self, base: str, agent: str = BROWSER_UA) -> None:
        super().__init__()
        self.base = base
        self.headers["User-Agent"] = agent
        # A person who accepted the consent banner (a script can always claim that too).
        self.cookies.set("personalize_consent", "granted")

    def get_page(self, path: str, **kwargs) -> requests.Response:
        return self.get(self.base + path, timeout=kwargs.pop("timeout", REQUEST_TIMEOUT), **kwargs)

    def beacon(self, events: list[dict], *, headers: dict | None = None, body: str | bytes | None = None) -> requests.Response:
        """Post a batch as beacon.js does (sent again once when the server answers "resend":
        the first contact of a cookieless browser only sets its cookie)."""
        for _attempt in range(2):
            answer = self.post(
                self.base + "/personalize/api/events/",
                data=body if body is not None else json.dumps({"events": events}),
                headers={"Content-Type": "application/json", "Origin": self.base, **(headers or {})},
                timeout=REQUEST_TIMEOUT,
            )
            if answer.status_code != 202 or not answer.content or not answer.json().get("resend"):
                break
        return answer

    def form_post(self, path: str, data: dict, *, page: str | None = None) -> requests.Response:
        """POST a form with Django's CSRF token (read from the cookie a GET of ``page`` set)."""
        if "csrftoken" not in self.cookies:
            self.get_page(page or path)
        token = self.cookies.get("csrftoken", "")
        return self.post(
            self.base + path,
            data={**data, "csrfmiddlewaretoken": token},
            headers={"Referer": self.base + (page or path)},
            timeout=REQUEST_TIMEOUT,
            allow_redirects=False,  # the redirect (to the order page) is the answer
        )


def timed(call: Callable[[], requests.Response]) -> tuple[float, requests.Response | Exception]:
    t0 = time.perf_counter()
    try:
        result: requests.Response | Exception = call()
    except requests.RequestException as exc:
        result = exc
    return (time.perf_counter() - t0) * 1000, result


def status(result: requests.Response | Exception) -> str:
    return str(result.status_code) if isinstance(result, requests.Response) else type(result).__name__


# --- the run ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    ok: bool
    detail: str


@dataclass
class Context:
    workdir: Path
    products: list[dict]  # {"id", "slug"} of active products in stock
    servers: dict[str, Server] = field(default_factory=dict)

    def server(self, name: str = "redis", redis_url: str | None = None, **env: str) -> Server:
        """A running server by name (started once, kept for the scenarios that share it)."""
        if name not in self.servers:
            self.servers[name] = Server(name, redis_url or REDIS_URL, self.workdir, env_extra=env).start()
        return self.servers[name]

    def stop_all(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()


Scenario = Callable[[Context], Outcome]
SCENARIOS: list[tuple[str, Scenario]] = []


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(func: Scenario) -> Scenario:
        SCENARIOS.append((name, func))
        return func

    return register


def setup_database(workdir: Path) -> list[dict]:
    """Fresh database, migrations, small demo data; returns products a scenario may buy."""
    from bench.databases import recreate_database

    recreate_database(DATABASE_URL)
    env = {**os.environ, **server_env(workdir), "FAULTS_REDIS_URL": REDIS_URL}
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "--noinput", "-v", "0"], ["load_demo_data", "--products", "60", "--shoppers", "300", "--no-images"]):
        subprocess.run(manage + command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    os.environ.update(server_env(workdir))
    os.environ["FAULTS_REDIS_URL"] = REDIS_URL
    import django

    django.setup()
    from demo_shop.catalog.models import Product

    return list(Product.objects.active().filter(stock__gte=5).order_by("pk").values("id", "slug")[:60])


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL, socket_timeout=2).flushdb()


def run(selected: list[str]) -> int:
    from bench import faults_scenarios  # noqa: F401  (registers the scenarios)

    workdir = Path(tempfile.mkdtemp(prefix="personalize-faults-"))
    flush_redis()
    t0 = time.monotonic()
    products = setup_database(workdir)
    print(f"setup: database {DATABASE_URL.rsplit('/', 1)[-1]}, {len(products)} products, {time.monotonic() - t0:.0f} s; logs in {workdir}")
    context = Context(workdir=workdir, products=products)
    survived = failed = 0
    try:
        for name, func in SCENARIOS:
            if selected and not any(word in name for word in selected):
                continue
            started = time.monotonic()
            try:
                outcome = func(context)
            except Exception as exc:  # a crashed scenario is a failed one, with the reason
                outcome = Outcome(False, f"crashed: {type(exc).__name__}: {exc}"[:300])
                traceback.print_exc(file=sys.stderr)
            label = "survived" if outcome.ok else "FAILED"
            print(f"{name:<44} {label:<8} {outcome.detail} ({time.monotonic() - started:.1f} s)", flush=True)
            survived += outcome.ok
            failed += not outcome.ok
    finally:
        context.stop_all()
    print(f"faults: {survived} survived, {failed} failed")
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated words: run scenarios whose name contains one")
    args = parser.parse_args()
    sys.exit(run([word.strip() for word in args.only.split(",") if word.strip()]))


if __name__ == "__main__":
    # Run as bench.faults (not __main__) so the scenarios module registers into the same list.
    from bench.faults import main as _main

    _main()
