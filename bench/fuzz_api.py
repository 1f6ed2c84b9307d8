"""API fuzzing: schemathesis against personalize's OpenAPI schema, on a real server.

Lives in bench/ next to the fault suite because it is the same kind of run (a command, not a
pytest test): it reuses bench/faults.py's machinery — the throw-away PostgreSQL database with
the demo data (``setup_database``) and the gunicorn server on loopback (``Server``) — with a
database and a Redis database of its own (``bench_fuzz_<pid>``, Redis db 12) and the settings in
bench/fuzz_settings.py (throttles off, nothing else relaxed). Then it runs ``schemathesis run``
against the served schema (``/personalize/api/schema/``) with a bounded number of examples per
operation, as a browser of the shop would call it: a same-site ``Origin``, the consent cookie and
the signed cookie of a demo shopper who has history.

Checks: no 5xx (``not_a_server_error``), and every answer documented (status code, content
type, body schema). Afterwards the server's and personalize's logs must hold no traceback.
Prints a closing line ``fuzz: N operations, N test cases, N server errors, N failures, T s``
and exits 1 on any failure or server error. The database is dropped at the end.

Usage::

    .venv/bin/python bench/fuzz_api.py                       # 50 examples per operation
    .venv/bin/python bench/fuzz_api.py --max-examples 200 --seed 7
    FUZZ_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_fuzz_mine \\
    FUZZ_REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/fuzz_api.py

docs/api.md describes the API; docs/benchmarks.md ("API fuzzing") has the figures.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# A database of this run's own (two runs at once, e.g. CI and a developer, must not drop each
# other's); the name must start with "bench" (bench/databases.py refuses others).
DATABASE_URL = os.environ.get("FUZZ_DATABASE_URL") or f"postgres://postgres@127.0.0.1:5432/bench_fuzz_{os.getpid()}"
REDIS_URL = os.environ.get("FUZZ_REDIS_URL", "redis://127.0.0.1:6379/12")
# bench.faults reads its database and Redis at import: point them at ours first.
os.environ["FAULTS_DATABASE_URL"] = DATABASE_URL
os.environ["FAULTS_REDIS_URL"] = REDIS_URL

from bench import faults  # noqa: E402
from bench.databases import drop_database  # noqa: E402

CHECKS = os.environ.get("FUZZ_CHECKS", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance")
SCHEMA_PATH = "/personalize/api/schema/"


def shopper_cookie() -> str:
    """``Cookie`` of a demo shopper with history (signed as the server signs it) who consented."""
    from django.http import HttpResponse

    from personalize.conf import personalize_settings as ps
    from personalize.identity import set_cookie
    from personalize.models import Event, Shopper

    shopper = Shopper.objects.filter(pk__in=Event.objects.values("shopper_id")[:1]).first() or Shopper.objects.create()
    response = HttpResponse()
    set_cookie(response, shopper.key)
    return f"{ps.COOKIE_NAME}={response.cookies[ps.COOKIE_NAME].value}; {consent_cookie()}"


def consent_cookie() -> str:
    """``Cookie`` of a new visitor who accepted the banner (no profile yet)."""
    from personalize.conf import personalize_settings as ps

    return f"{ps.CONSENT_COOKIE_NAME}=granted"


@dataclass
class Pass:
    """One schemathesis run: who calls, and which operations."""

    name: str
    cookie: str
    include_path_regex: str = ""
    csrf_token: str = ""  # Django's CSRF cookie and header (the consent form needs them)


def csrf_token(base: str) -> str:
    """A CSRF cookie value as a browser gets it: from a page with a form (the privacy page)."""
    browser = faults.Browser(base)
    browser.get_page("/personalize/privacy/")
    return browser.cookies.get("csrftoken", "")


def schemathesis_command(base: str, run_pass: Pass, args: argparse.Namespace, junit: Path) -> list[str]:
    binary = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if binary is None:
        raise SystemExit("error: schemathesis is not installed (pip install -e '.[fuzz]')")
    command = [
        binary, "run", base + SCHEMA_PATH,
        "--checks", CHECKS,
        "--max-examples", str(args.max_examples),
        "--seed", str(args.seed),
        "--phases", "examples,coverage,fuzzing",
        "--workers", str(args.workers),
        "--request-timeout", "20",
        "--max-redirects", "0",  # a redirect is the answer (campaign links, consent, cart restore)
        "--suppress-health-check", "all",
        "--report", "junit", "--report-junit-path", str(junit),
        "--header", f"Origin: {base}",
        "--header", f"User-Agent: {faults.BROWSER_UA}",
        "--header", f"Cookie: {run_pass.cookie}" + (f"; csrftoken={run_pass.csrf_token}" if run_pass.csrf_token else ""),
    ]  # fmt: skip
    if run_pass.csrf_token:
        command += ["--header", f"X-CSRFToken: {run_pass.csrf_token}"]
    if run_pass.include_path_regex:
        command += ["--include-path-regex", run_pass.include_path_regex]
    return command


def junit_counts(path: Path) -> tuple[int, int]:
    """``(operations, failed operations)`` from schemathesis' JUnit report."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return 0, 0
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    tests = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    return tests, failed


def run(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="personalize-fuzz-"))
    report_dir = ROOT / "var" / "fuzz"
    report_dir.mkdir(parents=True, exist_ok=True)
    faults.flush_redis()
    products = faults.setup_database(workdir)
    # A shopper with history (and Django's CSRF token) on every operation; then a consenting
    # visitor without a profile on the API (first-contact and new-profile paths, non-personal reads).
    passes = [Pass("shopper", shopper_cookie()), Pass("new-visitor", consent_cookie(), include_path_regex="/api/")]
    print(f"setup: database {DATABASE_URL.rsplit('/', 1)[-1]}, {len(products)} products, {time.monotonic() - t0:.0f} s; logs in {workdir}", flush=True)
    server = faults.Server("fuzz", REDIS_URL, workdir, env_extra={"DJANGO_SETTINGS_MODULE": "bench.fuzz_settings"})
    # The hooks (bench/fuzz_hooks.py) sign tokens as the server does: same settings and key.
    env = {
        **os.environ,
        **faults.server_env(workdir),
        "DJANGO_SETTINGS_MODULE": "bench.fuzz_settings",
        "SCHEMATHESIS_HOOKS": "bench.fuzz_hooks",
        "FUZZ_PRODUCT_KEYS": ",".join(str(p["id"]) for p in products[:20]),
    }
    operations = cases = server_errors = failed = 0
    all_ok = True
    try:
        server.start()
        passes[0].csrf_token = csrf_token(server.base)
        t1 = time.monotonic()
        for run_pass in passes:
            junit = report_dir / f"schemathesis-{run_pass.name}.xml"
            junit.unlink(missing_ok=True)
            command = schemathesis_command(server.base, run_pass, args, junit)
            print(f"--- pass {run_pass.name}: {' '.join(command[3:5])} ...", flush=True)
            # In var/fuzz/: schemathesis keeps a .schemathesis/ cache in its working directory.
            completed = subprocess.run(command, cwd=report_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            output = completed.stdout
            print(output, flush=True)
            (report_dir / f"schemathesis-{run_pass.name}.log").write_text(output)
            pass_operations, pass_failed = junit_counts(junit)
            operations += pass_operations
            failed += pass_failed
            cases += sum(int(n) for n in re.findall(r"(\d+) generated", output))
            server_errors += sum(int(n) for n in re.findall(r"ST101 Server error: (\d+)", output))
            all_ok = all_ok and completed.returncode == 0 and pass_operations > 0
        fuzz_seconds = time.monotonic() - t1
        logged = server.errors()
    finally:
        server.stop()
        if not args.keep_database:
            drop_database(DATABASE_URL)
    for line in logged[:20]:
        print(f"logged: {line}")
    ok = all_ok and not logged
    print(
        f"fuzz: {operations} operations ({len(passes)} passes), {cases} test cases, {server_errors} server errors, "
        f"{failed} failed operations, {len(logged)} logged tracebacks, "
        f"{args.max_examples} examples per operation, seed {args.seed}, {fuzz_seconds:.0f} s fuzzing, "
        f"{time.monotonic() - t0:.0f} s total"
    )
    return 0 if ok else 1


def main() -> None:
    # CI's `timeout` sends SIGTERM: unwind through run()'s finally (server stopped, database dropped).
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("FUZZ_MAX_EXAMPLES", 50)))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", 12)))
    # One worker: with two threads, Hypothesis' concurrent ast.parse of lambda sources hits
    # CPython 3.11's "AST constructor recursion depth mismatch" SystemError now and then.
    parser.add_argument("--workers", type=int, default=1, help="schemathesis workers (threads)")
    parser.add_argument("--keep-database", action="store_true", help="leave the database for a look afterwards")
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
