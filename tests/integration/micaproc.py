# SPDX-License-Identifier: MIT
"""Helpers for the operations tests (logs, reload, metrics, HAProxy).

conftest's Server always puts --root, --templates and the logs on the command line, and the
command line wins over config.json, also on SIGHUP. To test a reload of those settings, a
Mica here is started from a config file alone (plus whatever args the test gives), in its
own folder, and the `micas` fixture stops every one it started at the end of the test (by
pid, SIGTERM, exit 0, no sanitizer report).

Also: the access log's line format as a regex, Prometheus text parsing, and a free port.
"""
import datetime
import json
import os
import pathlib
import re
import signal
import socket

import pytest

from conftest import REPO, START_RE, first_line, poll_text, spawn_mica, stop_all_clean, terminate

# SPEC §5: IP - USER [time] "REQUEST" STATUS BYTES "REFERER" "USER-AGENT" USEC, where the
# quoted fields hold printable ASCII only, with '"' and '\' escaped as \xHH.
QUOTED = r'((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\x[0-9a-f]{2})*)'
ACCESS_RE = re.compile(
    r'^(?P<ip>[0-9a-fA-F.:]+) - (?P<user>\S+) \[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} '
    r'[+-]\d{4})\] "' + QUOTED.replace("(", "(?P<request>", 1) + r'" (?P<status>\d{3}) '
    r'(?P<bytes>\d+) "' + QUOTED.replace("(", "(?P<referer>", 1) + r'" "' +
    QUOTED.replace("(", "(?P<agent>", 1) + r'" (?P<usec>\d+)$')
ERROR_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z \[(debug|info|warn|error)\] \S.*$")


def parse_access(line):
    """The fields of one access.log line (a dict), or an AssertionError naming the line."""
    m = ACCESS_RE.match(line)
    assert m, f"malformed access.log line: {line!r}"
    d = m.groupdict()
    d["when"] = datetime.datetime.strptime(d["time"], "%d/%b/%Y:%H:%M:%S %z")
    for k in ("status", "bytes", "usec"):
        d[k] = int(d[k])
    return d


def read_lines(path):
    """The lines of a log file (bytes decoded as ASCII: the log must be pure ASCII), each
    checked to end with a newline."""
    path = pathlib.Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), f"{path.name} ends inside a line: {data[-200:]!r}"
    return data.decode("ascii").splitlines()


def free_port():
    """A port number the kernel says is free now (only for values that are never bound)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_metrics(text):
    """Prometheus text exposition → ({(name, labels-tuple): value}, {name: type})."""
    samples, types = {}, {}
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        m = line_re.match(line)
        assert m, f"bad metrics line {line!r}"
        labels = tuple(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples, types


class Mica:
    """One mica process started from a config file (see the module comment)."""

    def __init__(self, workdir, config, args=(), preexec_fn=None):
        self.workdir = pathlib.Path(workdir)
        self.config_path = self.workdir / "config.json"
        self.config = dict(config)
        self.args = list(args)
        self.preexec_fn = preexec_fn
        self.proc = None
        self.port = None
        self.banner = ""
        self.out = b""  # what stdout had after the banner, once stopped
        self.returncode = None  # of a start that failed

    def write_config(self, config=None, text=None):
        if config is not None:
            self.config = dict(config)
        self.config_path.write_text(text if text is not None else json.dumps(self.config))

    def start(self, timeout=10.0):
        self.write_config()
        self.proc = spawn_mica(["--config", str(self.config_path)] + self.args, self.workdir,
                               self.preexec_fn)
        line = first_line(self.proc, timeout)
        if not line.endswith(b"\n"):
            proc, self.proc = self.proc, None
            if proc.poll() is None:
                proc.kill()
            _, err = proc.communicate(timeout=10)
            self.returncode = proc.returncode
            raise RuntimeError(f"mica did not start (exit {proc.returncode}): {line!r} "
                               f"{err.decode(errors='replace')}")
        self.banner = line.decode()
        m = START_RE.search(self.banner)
        assert m, self.banner
        self.port = int(m.group(2))
        return self

    @property
    def pid(self):
        return self.proc.pid

    def path(self, key):
        """A config path (access_log, error_log …) made absolute against the workdir."""
        return self.workdir / self.config[key]

    def error_text(self):
        p = self.path("error_log")
        return p.read_text() if p.exists() else ""

    def wait_error(self, pred, timeout=3.0):
        """Polls error.log until pred(text); returns the text."""
        return poll_text(self.error_text, pred, timeout)

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def reload(self, config=None, text=None, expect="SIGHUP: configuration reloaded",
               timeout=5.0):
        """Writes the new config, sends SIGHUP and waits until error.log has one more line
        containing expect; returns the error log text."""
        before = self.error_text().count(expect)
        self.write_config(config, text)
        self.signal(signal.SIGHUP)
        text = self.wait_error(lambda t: t.count(expect) > before, timeout)
        assert text.count(expect) > before, f"no {expect!r} after SIGHUP:\n{text}"
        return text

    def stop(self, timeout=15.0):
        """SIGTERM, wait; returns (exit code, stderr text); stdout's rest goes to self.out."""
        if self.proc is None:
            return None, ""
        proc, self.proc = self.proc, None
        code, self.out, err = terminate(proc, timeout)
        return code, err

    def kill(self):
        """SIGKILL (a crash on purpose); the fixture then leaves it alone."""
        if self.proc is not None:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.communicate(timeout=10)
            self.proc = None


def base_config(workdir, **extra):
    """A complete config for a Mica in workdir: its own www/ copy, logs and data there."""
    workdir = pathlib.Path(workdir)
    www = workdir / "www"
    if not www.exists():
        import shutil
        shutil.copytree(REPO / "www", www)
    cfg = {"port": 0, "bind": "127.0.0.1", "root": str(www),
           "templates_dir": str(REPO / "templates"), "access_log": "access.log",
           "error_log": "error.log", "data_dir": str(workdir / "data"), "threads": 2}
    cfg.update(extra)
    return cfg


@pytest.fixture
def micas(tmp_path):
    """Factory: micas(config=None, args=(), preexec_fn=None, start=True, where=None,
    **config_keys) → a Mica in its own folder under where (default tmp_path), its config
    defaults from base_config."""
    made = []

    def factory(config=None, args=(), preexec_fn=None, start=True, where=None, **keys):
        work = pathlib.Path(where or tmp_path) / f"mica{len(made)}"
        work.mkdir()
        cfg = base_config(work, **keys)
        cfg.update(config or {})
        m = Mica(work, cfg, args, preexec_fn)
        made.append(m)
        return m.start() if start else m

    yield factory
    stop_all_clean(made)
