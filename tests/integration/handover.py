# SPDX-License-Identifier: MIT
"""Rolling restarts on one port, run in a network namespace of its own (see
test_reload.test_zero_downtime_restarts_on_the_same_port).

Run as a script: python3 handover.py WORKDIR ROUNDS CLIENTS; prints one JSON object.
Each round starts a new mica on the port the first one chose (SO_REUSEPORT lets both bind
it), waits until it has served, then SIGTERMs the old one, while CLIENTS threads keep making
requests on fresh connections. Every mica is stopped by its pid before the script exits.
"""
import json
import pathlib
import signal
import socket
import sys
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from conftest import SANITIZER_MARKS, Conn  # noqa: E402
from micaproc import Mica, base_config  # noqa: E402


def fetch_who(port, timeout=3.0):
    """GET /who.txt on a fresh connection: the body, or raises on any failure."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        c = Conn(s, timeout)
        c.get("/who.txt", ["Connection: close"])
        r = c.read_response()
        if r is None:
            raise ConnectionError("closed without a response")
        if r[0] != 200:
            raise ConnectionError(f"status {r[0]}")
        return r[2].decode()


def handover(workdir, rounds, n_clients):
    workdir = pathlib.Path(workdir)
    names = [chr(ord("A") + i) for i in range(rounds + 1)]
    started, exits = [], {}

    def launch(name, port):
        work = workdir / name
        work.mkdir()
        m = Mica(work, base_config(work, port=port))
        (work / "www" / "who.txt").write_text(name)
        started.append((name, m))
        return m.start()

    def finish(name, m):
        code, err = m.stop()
        bad = [mark for mark in SANITIZER_MARKS if mark in err]
        exits[name] = {"code": code, "sanitizer": bad, "stderr": err[-2000:] if bad else ""}

    served = {n: 0 for n in names}
    failures, stops, signalled = [], [], []
    stop = threading.Event()
    lock = threading.Lock()
    port = None

    def client():
        while not stop.is_set():
            try:
                who = fetch_who(port)
                with lock:
                    served[who] += 1
            except Exception as e:
                with lock:
                    failures.append({"at": time.monotonic(), "error": repr(e),
                                     "reset": isinstance(e, (ConnectionError, BrokenPipeError))})

    clients = []
    try:
        old = launch(names[0], 0)
        port = old.port
        clients = [threading.Thread(target=client) for _ in range(n_clients)]
        for t in clients:
            t.start()
        for r in range(rounds):
            name = names[r + 1]
            new = launch(name, port)
            assert new.port == port, (new.port, port)
            deadline = time.monotonic() + 5
            while served[name] == 0 and time.monotonic() < deadline:
                time.sleep(0.01)  # both take connections now
            time.sleep(0.2)
            signalled.append(time.monotonic())
            old.signal(signal.SIGTERM)
            old.proc.wait(timeout=15)
            stops.append(f"{names[r]} stopped at {time.monotonic():.3f}")
            finish(names[r], old)
            old = new
        time.sleep(0.3)
        stop.set()
        for t in clients:
            t.join(10)
        alone = sorted({fetch_who(port) for _ in range(20)})
    finally:
        stop.set()
        for t in clients:
            t.join(10)
        for name, m in started:
            if m.proc is not None:
                finish(name, m)
    return {"served": served, "failures": failures, "stops": stops, "signalled": signalled,
            "exits": exits,
            "alone": alone, "last": names[-1]}


if __name__ == "__main__":
    print(json.dumps(handover(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
