"""Hostile requests to the snapshot API, served by the real ``trust-dw serve`` process under ``strace``.

The server answers from a copy of the reference's published ``exports/``; beside it lie things it must never
read (a copy of the working DuckDB file, a secret file). Hypothesis composes requests from hostile parts —
path traversal in every spelling (``..``, percent-encoded, double-encoded, backslashes, NUL, full-width dots,
absolute paths), unknown tables, absurd dates, ids with forbidden characters, huge or malformed query values —
and sends them byte for byte (no client-side normalisation). Every request with a hostile part must get a 4xx,
every request made of valid parts a 200 or a 404, none a 5xx, and no body may carry the secret.

``strace -f`` records every file system call of the server process for its whole life, at the kernel level
(pyarrow's and the C library's opens included): it must open nothing for writing, create, rename or delete
nothing, and open nothing under the home outside ``exports/``.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import PUBLISHED, SCALE, TRUST_DW, cli_env, record

pytestmark = pytest.mark.skipif(
    shutil.which("strace") is None, reason="needs strace (apt-get install strace)"
)

SECRET = "NEVER-SERVE-THIS-SECRET"
EXAMPLES = 120 if SCALE == "tiny" else 600
TABLES = ["shop_scores_daily", "creator_scores_daily", "product_tiers_daily", "provider_tiers_daily"]
ALL_TABLES = [*TABLES, "flow_allocation_daily"]

TRAVERSAL = [
    "..", "%2e%2e", "%2E%2E", "..%2f..%2fsecret.txt", "%2e%2e%2f%2e%2e%2fsecret.txt", "..%5c..%5csecret.txt",
    "%252e%252e%252fsecret.txt", "..%252f..%252fsecret.txt", "%c0%ae%c0%ae", "%EF%BC%8E%EF%BC%8E", "..%00",
    "%00", "~", "%2fetc%2fpasswd", "..%2f..%2fwarehouse%2ftrust_dw.duckdb", "....%2f%2f", ".%2e", "%2e.",
    "secret.txt", "..%2f..%2f..%2f..%2fetc%2fshadow", "%2e%2e%5c%2e%2e%5c", ";..", "..;",
]  # fmt: skip
BAD_TABLES = [
    "shops",
    "SHOP_SCORES_DAILY",
    "shop_scores_daily%00",
    "shop_scores_daily.parquet",
    "x" * 300,
    "%20",
]
BAD_DATES = [
    "0000-00-00", "9999-99-99", "2026-02-30", "2026-13-01", "1999-12-31", "2100-01-01", "-1", "1e9",
    "99999999-01-01", "2026-1-3", "2026-01-03T00:00:00", "2026-01-03%00", "2026-01-03%2f..", "%20", "today",
]  # fmt: skip
BAD_IDS = ["S%2f..%2f..", "S%00", "S%20X", "%27%20or%201=1--", "S" * 300, "S%0aX", "S%3bdrop", "S%25"]
BAD_NUMBERS = ["0", "-1", "10001", str(10**30), "abc", "1e3", "", "1.5", "%00", "9" * 400, "NaN"]


@dataclass(frozen=True)
class Request:
    path: str
    hostile: bool


def part(valid: list[str], bad: list[str]) -> st.SearchStrategy[tuple[str, bool]]:
    return st.one_of(
        st.sampled_from(valid).map(lambda v: (v, False)),
        st.sampled_from(bad + TRAVERSAL).map(lambda v: (v, True)),
    )


@st.composite
def requests(draw, dates: list[str], ids: dict[str, list[str]]) -> Request:
    known_dates = [*dates, "2026-06-30"]  # a valid ds never published: 404
    route = draw(st.sampled_from(["dates", "latest", "manifest", "parquet", "lookup", "flow", "raw"]))
    hostile = False

    def take(valid: list[str], bad: list[str]) -> str:
        nonlocal hostile
        value, is_bad = draw(part(valid, bad))
        hostile = hostile or is_bad
        return value

    if route == "raw":  # a traversal straight after a prefix
        prefix = draw(
            st.sampled_from(["/v1/tables/", "/v1/", "/", "/v1/tables/shop_scores_daily/", "/docs/"])
        )
        return Request(
            prefix + "/".join(draw(st.lists(st.sampled_from(TRAVERSAL), min_size=1, max_size=4))), True
        )
    if route in ("dates", "latest"):
        path = f"/v1/tables/{take(ALL_TABLES, BAD_TABLES)}/{route}"
    elif route in ("manifest", "parquet"):
        path = f"/v1/tables/{take(ALL_TABLES, BAD_TABLES)}/{take(known_dates, BAD_DATES)}/{route}"
    elif route == "lookup":
        kind, table = draw(
            st.sampled_from(
                [
                    ("shops", "score", "shop"),
                    ("creators", "score", "creator"),
                    ("products", "tier", "product"),
                ]
            ).map(lambda t: (t[0] + "/{id}/" + t[1], t[2]))
        )
        path = "/v1/" + kind.replace("{id}", take([*ids[table], f"{table[0].upper()}999999"], BAD_IDS))
    else:
        path = f"/v1/flow/{take(['chuanliu', 'cold_start', 'selected_goods', 'no_such_pool'], BAD_IDS)}"
    params = []
    if route in ("lookup", "flow") and draw(st.booleans()):  # the routes that take a ds
        params.append(f"ds={take(known_dates, BAD_DATES)}")
    if route == "flow" and draw(st.booleans()):
        params.append(f"limit={take(['1', '10', '10000'], BAD_NUMBERS)}")
        params.append(f"offset={take(['0', '5'], BAD_NUMBERS)}")
    return Request(path + ("?" + "&".join(params) if params else ""), hostile)


def raw_get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("GET", path, skip_host=False, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def server(reference, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("api")
    home = root / "dw"
    shutil.copytree(reference.last / "exports", home / "exports")
    (home / "warehouse").mkdir()
    shutil.copy(reference.last / "warehouse" / "trust_dw.duckdb", home / "warehouse" / "trust_dw.duckdb")
    (home / "secret.txt").write_text(SECRET)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    trace = root / "strace.txt"
    proc = subprocess.Popen(
        ["strace", "-f", "-qq", "-o", str(trace), "-e", "trace=%file,ftruncate",
         TRUST_DW, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=cli_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while True:
        try:
            if raw_get(port, "/healthz")[0] == 200:
                break
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "trust-dw serve did not come up"
        time.sleep(0.2)
    yield home, port, trace
    os.killpg(proc.pid, signal.SIGTERM)  # the server and strace: strace alone would only detach
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_hostile_requests_get_4xx_and_valid_ones_200_or_404(server, reference) -> None:
    home, port, _ = server
    dates = list(PUBLISHED)
    ids = {
        "shop": ["S000001", "S000002"],
        "creator": ["C000001", "C000002"],
        "product": ["P0000001", "P0000002"],
    }
    counts = {"hostile": 0, "valid": 0}

    @given(request=requests(dates, ids))
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    def check(request: Request) -> None:
        status, body = raw_get(port, request.path)
        assert status < 500, (request, status, body[:300])
        assert SECRET.encode() not in body and b"root:" not in body, request
        if request.hostile:
            assert 400 <= status < 500, (request, status, body[:300])
        else:
            assert status in (200, 404), (request, status, body[:300])
        counts["hostile" if request.hostile else "valid"] += 1

    check()
    assert counts["hostile"] and counts["valid"], counts
    record("hostile input: API requests (hypothesis), hostile ones all 4xx", counts["hostile"])
    record("hostile input: API requests with valid parts, all 200/404", counts["valid"])


_OPEN = re.compile(r'^\d+\s+(open|openat|openat2|creat)\((?:AT_FDCWD, |\d+, )?"([^"]*)", ([A-Z_|]+)')
_MUTATING = re.compile(
    r"^\d+\s+(rename|renameat|renameat2|unlink|unlinkat|rmdir|mkdir|mkdirat|truncate|ftruncate|link|linkat|"
    r"symlink|symlinkat|chmod|fchmod|fchmodat|chown|fchownat)\("
)
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")


def test_the_server_opened_nothing_for_writing_and_nothing_outside_exports(server) -> None:
    home, port, trace = server
    assert raw_get(port, f"/v1/tables/shop_scores_daily/{PUBLISHED[-1]}/parquet")[0] == 200
    time.sleep(0.5)  # strace writes its log as the calls happen
    lines = trace.read_text(errors="replace").splitlines()
    opens = [m.groups() for m in map(_OPEN.match, lines) if m]
    assert opens, "strace recorded no open: the trace is not working"
    writes = [(path, flags) for _, path, flags in opens if any(f in flags.split("|") for f in _WRITE_FLAGS)]
    assert writes == [], writes
    mutations = [line for line in lines if _MUTATING.match(line)]
    assert mutations == [], mutations[:10]
    exports = str((home / "exports").resolve())
    in_home = [path for _, path, _ in opens if path.startswith(str(home.resolve()))]
    outside = [path for path in in_home if not (path == exports or path.startswith(exports + "/"))]
    assert outside == [], outside
    assert any(p.endswith("part-0.parquet") for p in in_home), "the trace shows no snapshot read"
    assert not [p for _, p, _ in opens if p.startswith(("/etc/passwd", "/etc/shadow"))]
    record("hostile input: file system calls of the API traced by strace", len(opens))
