#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Memory per idle keep-alive connection, for `make bench` (bench/run.sh, scenario "idle").

    idle.py PORT CONNS PATH PID...

Reads the resident memory (VmRSS) of the server's processes PID... (and of their children),
opens CONNS keep-alive connections to 127.0.0.1:PORT, each of which sends one
"GET PATH HTTP/1.1" and reads the whole response, so that every connection has served a request
and now sits idle as a browser's would; waits a second for the server to settle, reads VmRSS
again, and prints one line:

    before_kib after_kib opened failed

then closes the connections with a reset (SO_LINGER 0: no TIME_WAIT left behind). Connections
are opened in batches of 250 (connect and send all, then read all), so the listen queue never
overflows. The caller must have raised RLIMIT_NOFILE above CONNS.
"""
import os
import socket
import struct
import sys
import time

BATCH = 250
TIMEOUT = 5.0


def pids_with_children(pids):
    out = []
    for pid in pids:
        out.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    out.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return sorted(set(out))


def rss_kib(pids):
    total = 0
    for pid in pids_with_children(pids):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def read_response(s):
    """Reads one whole response with a Content-Length body; returns its status code."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        if name.strip().lower() == b"connection" and value.strip().lower() == b"close":
            raise ConnectionError("the server closes the connection")
    if length is None:
        raise ConnectionError("no Content-Length")
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the body")
        body += chunk
    return status


def main():
    if len(sys.argv) < 5:
        sys.exit("usage: idle.py PORT CONNS PATH PID...")
    port, conns, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    pids = [int(p) for p in sys.argv[4:]]
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()

    before = rss_kib(pids)
    kept, failed, first_error = [], 0, None
    for start in range(0, conns, BATCH):
        batch = []
        for _ in range(min(BATCH, conns - start)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(TIMEOUT)
            try:
                s.connect(("127.0.0.1", port))
                s.sendall(request)
                batch.append(s)
            except OSError as e:
                failed += 1
                first_error = first_error or f"connect/send: {e}"
                s.close()
        for s in batch:
            try:
                status = read_response(s)
                if status != 200:
                    raise ConnectionError(f"status {status}")
                kept.append(s)
            except (OSError, ValueError, IndexError) as e:
                failed += 1
                first_error = first_error or f"response: {e}"
                s.close()
    time.sleep(1.0)
    after = rss_kib(pids)
    print(before, after, len(kept), failed, flush=True)
    if first_error:
        print(f"idle.py: {failed} connections failed; the first: {first_error}", file=sys.stderr)
    linger = struct.pack("ii", 1, 0)
    for s in kept:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        except OSError:
            pass
        s.close()


if __name__ == "__main__":
    main()
