"""Load on ``kgqa serve``: 50 concurrent clients for 60 s on ``/sparql`` and ``/api/ask``, then 20 chats at once.

Starts ``kgqa serve --store STORE`` (one uvicorn worker) on a free port, or uses ``--url``; waits for
``/health`` to say ``"ready": true`` (and, with ``--wait-prefill``, for the idle path-vector prefill
to finish). Then ``--clients`` asyncio clients each loop for ``--seconds``: half their requests are
SPARQL reads (a few shapes over the demo graph), half are questions. Of the questions, ``--new``
(default a third) are new each time — never asked before in the run: a demo question reworded
(``"tell me, ..."``, ``"do you know ..."``) or a question template filled with an entity label read
from the store — and the rest repeat earlier questions. A client that gets 503 waits its
``Retry-After`` as a polite client does.

A reply is **late** when it took longer than ``--limit`` (the server's ``--max-wait``, 10 s); an
**error** is no reply (timeout, connection), or a status other than 200 (and, for questions,
503 with ``Retry-After``). Prints per endpoint: requests, 200s, 503s, errors, late, median and p99
latency; answered questions per second; the server's own counters; and the load average beside
them (the machine is shared: absolute rates are pessimistic). Then ``--chats`` gradio_client chats
at once through the Gradio queue, each must come back with an answer. Never asserts.

    nice -n 10 .venv/bin/python bench/serve_load.py --store /tmp/demo-store
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import itertools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PREFIXES = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> PREFIX kgqa: <https://kgqa.dev/ns#> "
SPARQL_READS = [
    PREFIXES + "SELECT ?e ?l WHERE { ?e a kgqa:Entity ; rdfs:label ?l } LIMIT 50",
    PREFIXES + "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p ORDER BY DESC(?n) LIMIT 20",
    PREFIXES + "SELECT ?sl ?rl ?ol WHERE { ?s ?p ?o . ?p a kgqa:Relation ; rdfs:label ?rl . "
               "?s rdfs:label ?sl . ?o rdfs:label ?ol } LIMIT 100",
    "ASK { ?s ?p ?o }",
]
#: question templates filled with entity labels (new questions about every kind of entity)
TEMPLATES = ["Where was {} born?", "When was {} born?", "Who founded {}?", "Where did {} study?",
             "Who was the spouse of {}?", "Where is {} located?", "What did {} found?", "Where did {} die?",
             "Who created {}?", "What is {} known for?", "Where does {} work?", "Who worked at {}?"]
#: rewordings that keep a demo question's meaning but make it new to the answer cache
REWORDINGS = ["tell me, {}", "do you know {}", "I wonder: {}", "quick question: {}", "{} (asking again)",
              "please answer: {}", "can you tell me {}", "{} thanks"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_questions(path: Path) -> list[str]:
    return [ln.split("\t")[0].strip() for ln in path.read_text(encoding="utf-8").splitlines()
            if ln.strip() and not ln.startswith("#")]


class Questions:
    """Repeated questions and a stream of new ones (each new one is asked once, then may repeat)."""

    def __init__(self, demo: list[str], labels: list[str], new_share: float, seed: int = 0):
        self.rng = random.Random(seed)
        self.asked: list[str] = list(demo[:10])
        self.new_share = new_share
        fresh = [r.format(q[0].lower() + q[1:]) for r in REWORDINGS for q in demo]
        fresh += [t.format(label) for t in TEMPLATES for label in labels]
        self.rng.shuffle(fresh)
        endless = (f"{q} ({i})" for i in itertools.count() for q in demo)
        self._fresh = itertools.chain(fresh, endless)

    def next(self) -> tuple[str, bool]:
        if self.rng.random() < self.new_share:
            q = next(self._fresh)
            self.asked.append(q)
            return q, True
        return self.rng.choice(self.asked), False


class Tally:
    def __init__(self, limit: float):
        self.limit = limit
        self.latencies: dict[str, list[float]] = {"sparql": [], "ask": []}
        self.codes: dict[str, dict] = {"sparql": {}, "ask": {}}
        self.errors: dict[str, list[str]] = {"sparql": [], "ask": []}
        self.late = {"sparql": 0, "ask": 0}
        self.new_answered = 0

    def add(self, kind: str, seconds: float, code: int | str, ok: bool, note: str = "") -> None:
        self.latencies[kind].append(seconds)
        self.codes[kind][code] = self.codes[kind].get(code, 0) + 1
        if seconds > self.limit:
            self.late[kind] += 1
        if not ok:
            self.errors[kind].append(f"{code} {note}"[:120])


async def client(session, base: str, questions: Questions, tally: Tally, stop_at: float, rng: random.Random,
                 timeout: float) -> None:
    import aiohttp

    while time.monotonic() < stop_at:
        wait = 0.0
        if rng.random() < 0.5:
            query = rng.choice(SPARQL_READS)
            started = time.monotonic()
            try:
                async with session.get(base + "/sparql", params={"query": query},
                                       timeout=aiohttp.ClientTimeout(total=timeout)) as r:
                    await r.read()
                    tally.add("sparql", time.monotonic() - started, r.status, r.status == 200)
            except (aiohttp.ClientError, asyncio.TimeoutError) as err:
                tally.add("sparql", time.monotonic() - started, "no reply", False, type(err).__name__)
        else:
            question, new = questions.next()
            started = time.monotonic()
            try:
                async with session.post(base + "/api/ask", json={"question": question},
                                        timeout=aiohttp.ClientTimeout(total=timeout)) as r:
                    body = await r.read()
                    seconds = time.monotonic() - started
                    retry = r.headers.get("Retry-After")
                    ok = r.status == 200 or (r.status == 503 and retry is not None)
                    tally.add("ask", seconds, r.status, ok, body[:80].decode("utf-8", "replace"))
                    if r.status == 200 and new:
                        tally.new_answered += 1
                    if r.status == 503 and retry:
                        wait = float(retry)
            except (aiohttp.ClientError, asyncio.TimeoutError) as err:
                tally.add("ask", time.monotonic() - started, "no reply", False, type(err).__name__)
        if wait:
            await asyncio.sleep(min(wait, max(0.0, stop_at - time.monotonic())))


async def load(base: str, questions: Questions, clients: int, seconds: float, limit: float, timeout: float) -> Tally:
    import aiohttp

    tally = Tally(limit)
    stop_at = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=clients + 5)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session, base, questions, tally, stop_at, random.Random(i), timeout)
                               for i in range(clients)))
    return tally


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def chats(base: str, cases: list[str]) -> tuple[int, float, list[str]]:
    """Each case asked through its own gradio_client at once; (answered, seconds, failures)."""
    from gradio_client import Client

    def one(question):
        reply = Client(base + "/", verbose=False).predict(question, api_name="/chat")
        return question, reply

    started = time.monotonic()
    failures = []
    with concurrent.futures.ThreadPoolExecutor(len(cases)) as pool:
        for question, reply in pool.map(one, cases):
            if "service is busy" in reply or "Internal error" in reply or "Could not answer" in reply:
                failures.append(f"{question}: {reply[:80]}")
    return len(cases) - len(failures), time.monotonic() - started, failures


def get_json(url: str, **kw):
    import httpx

    return httpx.get(url, timeout=10, **kw).json()


def entity_labels(base: str, n: int = 200) -> list[str]:
    q = PREFIXES + f"SELECT DISTINCT ?l WHERE {{ ?e a kgqa:Entity ; rdfs:label ?l }} LIMIT {int(n)}"
    data = get_json(base + "/sparql", params={"query": q})
    return [b["l"]["value"] for b in data["results"]["bindings"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, help="a built store to serve (kgqa build demo/corpus --store ...)")
    parser.add_argument("--url", help="an already running kgqa serve (instead of --store)")
    parser.add_argument("--questions", type=Path, default=ROOT / "demo" / "questions.txt")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--new", type=float, default=1 / 3, help="share of questions new each time")
    parser.add_argument("--limit", type=float, default=10.0, help="the wait limit (kgqa serve --max-wait)")
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--wait-prefill", action="store_true", help="start the load once the idle prefill is done")
    parser.add_argument("--no-prefill", action="store_true", help="serve with --no-prefill")
    args = parser.parse_args()
    if not args.url and not args.store:
        sys.exit("give --store STORE (a built store) or --url of a running kgqa serve")
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))  # so the served child is stopped too
    proc = None
    if args.url:
        base = args.url.rstrip("/")
    else:
        port = free_port()
        exe = Path(sys.executable).parent / "kgqa"
        cmd = ([str(exe)] if exe.exists() else [sys.executable, "-m", "ui.cli"]) + [
            "serve", "--store", str(args.store), "--port", str(port), "--max-wait", str(args.limit)]
        if args.no_prefill:
            cmd.append("--no-prefill")
        import tempfile

        server_log = tempfile.NamedTemporaryFile("w+", prefix="kgqa-serve-", suffix=".log", delete=False)
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=server_log, stderr=subprocess.STDOUT, text=True,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
        base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        health = None
        while True:
            try:
                health = get_json(base + "/health")
                if health.get("ready") and (not args.wait_prefill or
                                            health["questions"].get("idle", {}).get("state") in ("done", "budget")):
                    break
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            if proc is not None and proc.poll() is not None:
                sys.exit("kgqa serve stopped:\n" + Path(server_log.name).read_text()[-2000:])
            time.sleep(0.5)
        print(f"server ready after {time.monotonic() - started:.1f} s "
              f"(models loaded in {health['questions'].get('load_seconds')} s; "
              f"prefill {health['questions'].get('idle', {})})")
        if proc is not None:
            said = [ln for ln in Path(server_log.name).read_text().splitlines() if ln.startswith("kgqa:")]
            print("\n".join("  server: " + ln for ln in said))
        labels = entity_labels(base)
        demo = demo_questions(args.questions)
        questions = Questions(demo, labels, args.new)
        load_before = os.getloadavg()
        tally = asyncio.run(load(base, questions, args.clients, args.seconds, args.limit, timeout=max(30.0, 3 * args.limit)))
        load_after = os.getloadavg()
        stats = get_json(base + "/health").get("questions", {})
        print(f"\n{args.clients} clients x {args.seconds:g} s on {base} (limit {args.limit:g} s; "
              f"{args.new:.0%} of questions new); load average before {load_before[0]:.1f}, after {load_after[0]:.1f} "
              f"(1-min), {load_after[1]:.1f} (5-min) on {os.cpu_count()} cores")
        print(f"\n{'endpoint':<10} {'requests':>9} {'200':>7} {'503':>6} {'errors':>7} {'late':>5} "
              f"{'median s':>9} {'p99 s':>7}")
        for kind, name in (("sparql", "/sparql"), ("ask", "/api/ask")):
            lat = tally.latencies[kind]
            codes = tally.codes[kind]
            print(f"{name:<10} {len(lat):>9} {codes.get(200, 0):>7} {codes.get(503, 0):>6} "
                  f"{len(tally.errors[kind]):>7} {tally.late[kind]:>5} {statistics.median(lat) if lat else 0:>9.3f} "
                  f"{percentile(lat, 0.99):>7.3f}")
        answered = tally.codes["ask"].get(200, 0)
        print(f"\nanswered questions: {answered / args.seconds:.1f} /s ({answered} in {args.seconds:g} s; "
              f"{tally.new_answered} of them new); SPARQL replies {tally.codes['sparql'].get(200, 0) / args.seconds:.1f} /s")
        print("server counters: " + json.dumps({k: stats.get(k) for k in (
            "asked", "answered", "cache_hits", "shared", "refused", "timed_out", "dropped", "failed", "batches",
            "service_seconds")}))
        for kind in ("sparql", "ask"):
            for e in tally.errors[kind][:5]:
                print(f"  {kind} error: {e}")
        if args.chats:
            cases = [demo[i % len(demo)] for i in range(args.chats)]
            ok, seconds, failures = chats(base, cases)
            print(f"\n{args.chats} simultaneous gradio_client chats: {ok} answered in {seconds:.1f} s "
                  f"(load average {os.getloadavg()[0]:.1f})")
            for f in failures[:5]:
                print("  not answered: " + f)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
