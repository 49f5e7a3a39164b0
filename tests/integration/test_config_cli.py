# SPDX-License-Identifier: MIT
"""The binary's command line: --version, --help, --check-config, validation messages and
exit codes, precedence CLI > file > defaults, and start-up failures."""
import json
import os
import re
import socket
import subprocess

import pytest

from conftest import (MICA_BIN, REPO, START_RE, assert_clean_exit, mica_env, start_process,
                      stop_process)


def run(args, cwd, timeout=10, stdin=None):
    return subprocess.run([MICA_BIN] + list(args), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=mica_env(), input=stdin)


@pytest.fixture
def cwd(tmp_path):
    """A working directory with ./www (the default root) and nothing else."""
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "HelloWorld.html").write_text("hello")
    return tmp_path


def write_cfg(cwd, cfg, name="c.json"):
    p = cwd / name
    p.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))
    return p


def test_version(cwd):
    for flag in ("--version", "-V"):
        p = run([flag], cwd)
        assert p.returncode == 0
        assert re.fullmatch(r"mica \d+\.\d+\.\d+\n", p.stdout), p.stdout
        assert p.stderr == ""


def test_help(cwd):
    for flag in ("--help", "-h"):
        p = run([flag], cwd)
        assert p.returncode == 0
        assert p.stdout.startswith("Usage: mica")
        for opt in ("--port", "--bind", "--root", "--threads", "--config", "--check-config",
                    "--default-page", "--not-found-page", "--templates", "--access-log",
                    "--error-log", "--log-level", "--version", "--help"):
            assert opt in p.stdout, opt


def test_unknown_option(cwd):
    p = run(["--bogus"], cwd)
    assert p.returncode == 1
    assert "--bogus" in p.stderr and p.stdout == ""


def test_check_config_good_file(cwd):
    cfg = write_cfg(cwd, {"port": 8080, "root": "./www", "threads": 2, "keepalive_timeout_s": 3,
                          "cache": {"enabled": False}, "index_files": ["index.html", "index.htm"]})
    p = run(["--check-config", "--config", str(cfg)], cwd)
    assert p.returncode == 0, p.stderr
    assert "OK" in p.stdout + p.stderr


def test_check_config_defaults(cwd):
    p = run(["--check-config"], cwd)
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("case", ["key-not-pem", "cert-missing", "no-such-user", "data-is-a-file",
                                  "log-folder-missing", "root-missing", "log-is-a-folder",
                                  "data-not-the-users"])
def test_check_config_refuses_what_start_would(cwd, case):
    """--check-config says no, in one line naming the key or file, to what would stop mica
    from starting: not only the JSON but the root, the TLS files, the user, data_dir and
    the logs; and creates nothing while it looks."""
    (cwd / "file").write_text("x")
    (cwd / "junk.pem").write_text("not a key\n")
    args, named = ["--root", "www"], None
    if case == "key-not-pem":
        run(["--make-cert", str(cwd / "tls")], cwd)
        args += ["--tls-port", "8443", "--cert", str(cwd / "tls" / "cert.pem"),
                 "--key", "junk.pem"]
        named = "junk.pem"
    elif case == "cert-missing":
        args += ["--tls-port", "8443", "--cert", "nope.pem", "--key", "junk.pem"]
        named = "nope.pem"
    elif case == "no-such-user":
        args += ["--user", "no-such-user-xyz"]
        named = "no-such-user-xyz"
    elif case == "data-is-a-file":
        args += ["--data", "file"]
        named = "data_dir"
    elif case == "log-folder-missing":
        args += ["--error-log", "a/b/error.log"]
        named = "error_log"
    elif case == "root-missing":
        args = ["--root", "nowhere"]
        named = "nowhere"
    elif case == "log-is-a-folder":
        args += ["--access-log", "www"]
        named = "access_log"
    elif case == "data-not-the-users":
        # as root with user nobody: data_dir is written after dropping root, so a 0700
        # folder of root's is refused for nobody
        import pwd
        if os.geteuid() != 0:
            pytest.skip("needs root (to run as another user)")
        try:
            pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("no user nobody")
        (cwd / "d").mkdir(mode=0o700)
        args += ["--user", "nobody", "--data", "d"]
        named = "nobody"
    before = sorted(p.name for p in cwd.iterdir())
    p = run(["--check-config"] + args, cwd)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "OK" not in p.stdout
    [line] = [l for l in p.stderr.splitlines() if "[warn]" not in l]
    assert named in line, line
    assert sorted(p.name for p in cwd.iterdir()) == before, "--check-config created files"
    # the same options make mica refuse to start
    p = run(args + ["--port", "0", "--bind", "127.0.0.1"], cwd, timeout=10)
    assert p.returncode == 1, p.stdout


def test_check_config_creates_nothing(cwd):
    p = run(["--check-config", "--data", "newdata", "--error-log", "logs/e.log"], cwd)
    assert p.returncode == 0, p.stderr
    assert not (cwd / "newdata").exists() and not (cwd / "logs").exists()


def test_shipped_config_passes(cwd):
    p = run(["--check-config", "--config", str(REPO / "config.json")], REPO)
    assert p.returncode == 0, p.stderr


def test_shipped_config_equals_defaults(cwd):
    # the shipped config.json "equal to the defaults": every key it sets is a known key
    # and none is refused; it names the default port and root
    cfg = json.loads((REPO / "config.json").read_text())
    assert cfg["port"] == 6789 and cfg["root"] == "./www"
    assert cfg["default_page"] == "HelloWorld.html" and cfg["not_found_page"] == "404.html"


BAD = [
    ({"colour": "blue"}, "colour"),
    ({"port": "80"}, "port"),
    ({"port": 70000}, "port"),
    ({"port": -1}, "port"),
    ({"port": 80.5}, "port"),
    ({"root": "./nope"}, "nope"),
    ({"threads": 0}, "threads"),
    ({"threads": "four"}, "threads"),
    ({"log_level": "loud"}, "log_level"),
    ({"directory_listing": "yes"}, "directory_listing"),
    ({"keepalive_timeout_s": -1}, "keepalive_timeout_s"),
    ({"header_timeout_s": "10"}, "header_timeout_s"),
    ({"max_connections": 0}, "max_connections"),
    ({"max_header_bytes": []}, "max_header_bytes"),
    ({"cache": {"foo": 1}}, "foo"),
    ({"cache": 5}, "cache"),
    ({"index_files": "index.html"}, "index_files"),
    ({"bind": "bad..address"}, "bind"),
]


@pytest.mark.parametrize("cfg,key", BAD, ids=[k + "-" + json.dumps(c)[:30] for c, k in BAD])
def test_check_config_bad_file(cwd, cfg, key):
    path = write_cfg(cwd, cfg)
    p = run(["--check-config", "--config", str(path)], cwd)
    assert p.returncode == 1, (p.stdout, p.stderr)
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert key in lines[0], lines[0]
    assert "OK" not in p.stdout


@pytest.mark.parametrize("cfg,key", BAD[:6], ids=[k for _, k in BAD[:6]])
def test_bad_file_refuses_to_start(cwd, cfg, key):
    path = write_cfg(cwd, cfg)
    p = run(["--config", str(path), "--bind", "127.0.0.1", "--error-log", "off",
             "--access-log", "off"], cwd)
    assert p.returncode == 1
    assert "listening" not in p.stdout
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and key in lines[0], p.stderr


@pytest.mark.parametrize("text", ['{"port":', "[]", "", "not json", '{"port": 1,}'])
def test_invalid_json(cwd, text):
    path = write_cfg(cwd, text)
    p = run(["--check-config", "--config", str(path)], cwd)
    assert p.returncode == 1
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and "c.json" in lines[0], p.stderr


def test_missing_config_file(cwd):
    p = run(["--check-config", "--config", "missing.json"], cwd)
    assert p.returncode == 1
    assert len(p.stderr.splitlines()) == 1 and "missing.json" in p.stderr


@pytest.mark.parametrize("args,key", [
    (["--port", "70000"], "port"),
    (["--port", "abc"], "port"),
    (["--threads", "0"], "threads"),
    (["--log-level", "loud"], "log"),
    (["--root", "./nope"], "nope"),
])
def test_bad_cli_values(cwd, args, key):
    p = run(args + ["--check-config"], cwd)
    assert p.returncode == 1
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and key in lines[0], p.stderr


def started(args, cwd):
    proc, line = start_process(args + ["--error-log", "off", "--access-log", "off"], cwd)
    try:
        m = START_RE.search(line)
        assert m, (line, proc.poll())
        return line, int(m.group(2))
    finally:
        assert_clean_exit(*stop_process(proc))


@pytest.fixture
def busy_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    yield s.getsockname()[1]
    s.close()


def test_cli_beats_file(cwd, busy_port):
    (cwd / "a").mkdir()
    (cwd / "b").mkdir()
    cfg = write_cfg(cwd, {"port": busy_port, "root": "./a", "bind": "0.0.0.0", "threads": 3})
    line, port = started(["--config", str(cfg), "--port", "0", "--root", "./b",
                          "--bind", "127.0.0.1"], cwd)
    assert port != busy_port
    assert "http://127.0.0.1:" in line
    assert "root ./b," in line
    assert "3 threads" in line  # the file beats the defaults


def test_file_beats_defaults(cwd):
    (cwd / "site").mkdir()
    cfg = write_cfg(cwd, {"port": 0, "root": "./site", "bind": "127.0.0.1", "threads": 1})
    line, _ = started(["--config", str(cfg)], cwd)
    assert "root ./site," in line and "1 thread" in line and "127.0.0.1" in line


def test_config_json_in_cwd_is_read(cwd):
    (cwd / "site2").mkdir()
    write_cfg(cwd, {"port": 0, "root": "./site2", "bind": "127.0.0.1"}, name="config.json")
    line, _ = started([], cwd)
    assert "root ./site2," in line


def test_defaults_without_config(cwd):
    line, _ = started(["--port", "0", "--bind", "127.0.0.1"], cwd)
    assert "root ./www," in line
    assert re.search(r"\(root \./www, %d threads?\)" % os.cpu_count(), line), line


def test_positional_root(cwd):
    (cwd / "pos").mkdir()
    line, _ = started(["--port", "0", "--bind", "127.0.0.1", "pos"], cwd)
    assert "root pos," in line


def test_banner_format(cwd):
    line, port = started(["--port", "0", "--bind", "127.0.0.1", "-t", "2"], cwd)
    assert re.fullmatch(r"mica \d+\.\d+\.\d+ listening on http://127\.0\.0\.1:%d "
                        r"\(root \./www, 2 threads\)\n" % port, line), line


def test_occupied_port(cwd, busy_port):
    p = run(["--port", str(busy_port), "--bind", "127.0.0.1", "--error-log", "off",
             "--access-log", "off"], cwd)
    assert p.returncode == 1
    assert "listening" not in p.stdout
    lines = p.stderr.splitlines()
    assert len(lines) >= 1
    assert str(busy_port) in p.stderr or "in use" in p.stderr.lower(), p.stderr


def test_check_config_does_not_listen(cwd, busy_port):
    # --check-config only validates: it neither binds the port nor keeps running
    p = run(["--check-config", "--port", str(busy_port), "--bind", "127.0.0.1"], cwd, timeout=5)
    assert p.returncode == 0, p.stderr
