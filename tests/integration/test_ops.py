# SPDX-License-Identifier: MIT
"""Running mica as a service (issue 7): --user drops privileges after binding, root without
it is warned about; /metrics in the Prometheus text format, admin-protected or loopback
only; trusted_proxies and X-Forwarded-For."""
import os
import pwd
import shutil
import signal
import socket
import tempfile

import pytest

from conftest import Conn, basic_auth, request, wait_for
from micaproc import micas, parse_access, parse_metrics, read_lines  # noqa: F401 (fixture)

IS_ROOT = os.geteuid() == 0


def proc_ids(pid):
    """{task id: (uids, gids, groups)} for every thread of pid, from /proc."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        fields = {}
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                fields[k] = v.split()
        out[tid] = (fields["Uid"], fields["Gid"], fields.get("Groups", []))
    return out


@pytest.fixture
def open_tmp():
    """A folder under /tmp that every user can traverse (pytest's own tmp_path is 0700, so
    a process that has become nobody could not reach anything in it)."""
    d = tempfile.mkdtemp(prefix="mica-ops-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(not IS_ROOT, reason="switching users needs root")
def test_user_drops_privileges_after_binding(micas, open_tmp):
    nobody = pwd.getpwnam("nobody")
    m = micas(start=False, where=open_tmp, args=["--user", "nobody"],
              access_log="logs/access.log", error_log="logs/error.log")
    data = m.workdir / "data"
    data.mkdir(mode=0o777)
    os.chmod(data, 0o777)
    # the logs' folder belongs to the service user, so that it can reopen them (logrotate)
    (m.workdir / "logs").mkdir()
    os.chown(m.workdir / "logs", nobody.pw_uid, nobody.pw_gid)
    os.chmod(m.workdir, 0o755)
    m.start()
    ids = proc_ids(m.pid)
    assert len(ids) >= 3, ids  # main, logger, workers
    for tid, (uids, gids, groups) in ids.items():
        assert uids == [str(nobody.pw_uid)] * 4, (tid, uids)  # real, effective, saved, fs
        assert gids == [str(nobody.pw_gid)] * 4, (tid, gids)
        assert "0" not in groups, (tid, groups)
    log = m.wait_error(lambda t: "running as user nobody" in t)
    assert f"running as user nobody (uid {nobody.pw_uid})" in log, log
    assert "running as root" not in log
    # it serves, and the database is created by nobody
    assert request(m_srv(m), "/")[0] == 200
    with Conn(socket.create_connection(("127.0.0.1", m.port), timeout=5)) as c:
        body = b"name=Ada&message=hi"
        c.send(b"POST /forms/contact HTTP/1.1\r\nHost: t\r\n"
               b"Content-Type: application/x-www-form-urlencoded\r\n"
               b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        st = c.read_response()[0]
        assert st in (200, 303), st
    owned = [p for p in data.rglob("*") if p.is_file()]
    assert owned and all(p.stat().st_uid == nobody.pw_uid for p in owned), owned
    # the logs were given to nobody, and logrotate's dance works without root
    access = m.workdir / "logs" / "access.log"
    assert access.stat().st_uid == nobody.pw_uid
    assert wait_for(lambda: read_lines(access), timeout=3)
    os.rename(access, str(access) + ".1")
    m.signal(signal.SIGUSR1)
    assert wait_for(access.exists, timeout=3), m.error_text()
    assert request(m_srv(m), "/?after-rotate")[0] == 200
    assert wait_for(lambda: any("after-rotate" in l for l in read_lines(access)), timeout=3)
    assert access.stat().st_uid == nobody.pw_uid
    # and a reload still works as nobody (the files it reads are readable by it)
    m.reload(dict(m.config, headers={"*": {"X-As-Nobody": "1"}}))
    assert request(m_srv(m), "/")[1].get("x-as-nobody") == "1"
    assert all(v[0] == [str(nobody.pw_uid)] * 4 for v in proc_ids(m.pid).values())


@pytest.mark.skipif(not IS_ROOT, reason="the warning is about running as root")
def test_root_without_user_is_warned_about(micas):
    m = micas()
    log = m.wait_error(lambda t: "running as root" in t)
    assert '[warn] running as root: set "user" (--user)' in log, log
    assert request(m_srv(m), "/")[0] == 200


def test_user_that_does_not_exist_is_a_start_error(micas):
    m = micas(start=False, args=["--user", "no-such-user-mica"])
    with pytest.raises(RuntimeError) as e:
        m.start()
    assert 'user "no-such-user-mica"' in str(e.value), e.value
    assert m.returncode == 1


class m_srv:
    """What conftest.request() needs from a server, for a Mica."""

    def __init__(self, m):
        self.m = m

    def conn(self, timeout=5.0, host=None):
        return Conn(socket.create_connection((host or "127.0.0.1", self.m.port), timeout=timeout),
                    timeout)


def scrape(srv, headers=()):
    with srv.conn() as c:
        c.get("/metrics", headers)
        st, h, body, _ = c.read_response()
    return st, h, body


def test_metrics_prometheus_text(make_server):
    srv = make_server(config={"metrics": True}, files={"x.txt": "x" * 100})
    with srv.conn() as c:
        for _ in range(5):
            c.get("/")
            assert c.read_response()[0] == 200
        for _ in range(2):
            c.get("/nope")
            assert c.read_response()[0] == 404
        c.get("/", method="HEAD")
        assert c.read_response(head=True)[0] == 200
        for _ in range(3):
            c.get("/x.txt")
            assert c.read_response()[0] == 200
    st, h, body = scrape(srv)
    assert st == 200, body
    assert h["content-type"].startswith("text/plain; version=0.0.4"), h
    text = body.decode()
    samples, types = parse_metrics(text)

    def v(name, **labels):
        return samples[(name, tuple(labels.items()))]

    assert v("mica_responses_total", code="200") >= 9
    assert v("mica_responses_total", code="404") >= 2
    assert v("mica_requests_total", method="GET") >= 10
    assert v("mica_requests_total", method="HEAD") >= 1
    assert v("mica_connections_active") >= 1  # this scrape's own connection
    assert v("mica_bytes_sent_total") >= 300
    assert v("mica_cache_hits_total") >= 2  # /x.txt a second and third time
    assert v("mica_log_lines_lost_total") == 0
    # the histogram: cumulative buckets, ascending bounds, +Inf equal to _count
    buckets = sorted(((float(dict(lbl)["le"]), val) for (name, lbl), val in samples.items()
                      if name == "mica_response_seconds_bucket"))
    assert len(buckets) >= 5 and buckets[-1][0] == float("inf"), buckets
    counts = [val for _, val in buckets]
    assert counts == sorted(counts), f"buckets not cumulative: {buckets}"
    count = v("mica_response_seconds_count")
    assert buckets[-1][1] == count
    # every response so far (not this one) went into the histogram and the status counts
    by_code = sum(val for (name, _), val in samples.items() if name == "mica_responses_total")
    assert count == by_code == 11, (count, by_code)
    assert 0 < v("mica_response_seconds_sum") < count * 1.0
    # TYPE lines
    assert types["mica_response_seconds"] == "histogram"
    for name in ("mica_responses_total", "mica_requests_total", "mica_bytes_sent_total",
                 "mica_cache_hits_total", "mica_log_lines_lost_total"):
        assert types.get(name) == "counter", name
    assert types.get("mica_connections_active") == "gauge"
    for name, _ in samples:
        family = name[:-len("_bucket")] if name.endswith("_bucket") else name
        for suffix in ("_sum", "_count"):
            if family.endswith(suffix) and family[:-len(suffix)] in types:
                family = family[:-len(suffix)]
        assert family in types, f"{name} has no # TYPE line"
    assert h.get("cache-control") == "no-store"
    # counters only grow
    _, _, body2 = scrape(srv)
    s2, _ = parse_metrics(body2.decode())
    assert s2[("mica_response_seconds_count", ())] == count + 1


def test_metrics_need_the_admin_when_one_is_configured(make_admin_server):
    srv = make_admin_server(config={"metrics": True})
    st, h, _ = scrape(srv)
    assert st == 401 and h.get("www-authenticate", "").startswith("Basic"), (st, h)
    st, _, _ = scrape(srv, ["Authorization: " + basic_auth(password="wrong")])
    assert st == 401
    st, h, body = scrape(srv, ["Authorization: " + basic_auth()])
    assert st == 200 and b"mica_responses_total" in body


def test_metrics_off_is_404(make_server):
    srv = make_server()
    st, _, body = scrape(srv)
    assert st == 404
    assert b"mica_" not in body


def test_metrics_without_admin_are_for_loopback_clients_only(make_server):
    # a client behind a trusted proxy on loopback is not itself on loopback
    srv = make_server(config={"metrics": True, "trusted_proxies": ["127.0.0.1"]})
    st, _, body = scrape(srv, ["X-Forwarded-For: 192.0.2.1"])
    assert st == 403, body
    st, _, _ = scrape(srv)
    assert st == 200


def xff_server(make_server, tmp_path, trusted):
    cfg = {} if trusted is None else {"trusted_proxies": trusted}
    srv = make_server(config=cfg, args=["--access-log", str(tmp_path / "a.log")],
                      files={"ip.tpl.html": "[{{request.ip}}]"})
    return srv, tmp_path / "a.log"


def client_ips(srv, path, cases):
    """Sends each X-Forwarded-For value (None: no header) to /ip.tpl.html?N; returns the
    template's answers and, after the stop, the access log's addresses, in case order."""
    shown = []
    for i, xff in enumerate(cases):
        st, _, body = request(srv, f"/ip.tpl.html?{i}", [] if xff is None else [
            "X-Forwarded-For: " + xff])
        assert st == 200, body
        shown.append(body.decode().strip("[]"))
    code, _ = srv.stop()
    assert code == 0
    logged = {}
    for line in read_lines(path):
        d = parse_access(line)
        logged[int(d["request"].split("?")[1].split()[0])] = d["ip"]
    return shown, [logged[i] for i in range(len(cases))]


def test_forwarded_for_from_a_trusted_proxy(make_server, tmp_path):
    srv, path = xff_server(make_server, tmp_path, ["127.0.0.1", "10.0.0.0/8"])
    cases = [("192.0.2.77", "192.0.2.77"),
             (None, "127.0.0.1"),
             # the rightmost entry that is not a trusted proxy
             ("203.0.113.5, 192.0.2.77", "192.0.2.77"),
             ("203.0.113.5, 10.1.2.3", "203.0.113.5"),
             ("2001:db8::7", "2001:db8::7"),
             ("not-an-address", "127.0.0.1")]
    shown, logged = client_ips(srv, path, [c for c, _ in cases])
    want = [w for _, w in cases]
    assert logged == want, list(zip(cases, logged))
    assert shown == want, list(zip(cases, shown))


@pytest.mark.parametrize("trusted", [None, ["10.0.0.0/8"], []])
def test_forwarded_for_ignored_from_other_peers(make_server, tmp_path, trusted):
    srv, path = xff_server(make_server, tmp_path, trusted)
    shown, logged = client_ips(srv, path, ["192.0.2.77", "203.0.113.5, 192.0.2.77"])
    assert logged == ["127.0.0.1"] * 2 and shown == ["127.0.0.1"] * 2, (logged, shown)
