# SPDX-License-Identifier: MIT
"""The operator's files (issue 7): the man page renders without warnings and documents
every option of `mica --help` and every configuration key; contrib/mica.service passes
`systemd-analyze verify`; contrib/logrotate.conf rotates the logs of a running mica."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import MICA_BIN, REPO, request, wait_for
from micaproc import read_lines

MAN = REPO / "docs" / "mica.1"
UNIT = REPO / "contrib" / "mica.service"
LOGROTATE = REPO / "contrib" / "logrotate.conf"
# hyphens as groff may render them (hyphen, minus sign, soft hyphen) → "-"
DASHES = str.maketrans({"\u2010": "-", "\u2212": "-", "\u00ad": "-", "\u2011": "-"})


def need(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed")
    return path


def rendered():
    """The man page as plain text, with lines long enough that nothing is broken."""
    groff = need("groff")
    r = subprocess.run([groff, "-man", "-Tutf8", "-rLL=250n", "-P-c", "-P-b", "-P-u",
                        str(MAN)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout.decode().translate(DASHES)


def section(text, name):
    m = re.search(rf"^{name}\n(.*?)(?=^[A-Z][A-Z ]+\n|\Z)", text, re.S | re.M)
    assert m, f"no {name} section"
    return m.group(1)


def help_options():
    r = subprocess.run([MICA_BIN, "--help"], stdout=subprocess.PIPE, timeout=10)
    assert r.returncode == 0
    opts = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", r.stdout.decode()))
    assert {"--config", "-c", "--user", "--no-gzip", "--make-cert", "-V"} <= opts, opts
    return sorted(opts)


def config_keys():
    """Every key of the configuration table in src/core/config.c (dotted when nested)."""
    text = (REPO / "src" / "core" / "config.c").read_text()
    keys = re.findall(r'^\s*\{"([a-z_.]+)", KEY_(?!OBJECT)', text, re.M)
    assert {"port", "trusted_proxies", "tls.hsts_max_age", "metrics"} <= set(keys), keys
    return keys


def test_man_page_renders_without_warnings():
    groff = need("groff")
    r = subprocess.run([groff, "-man", "-ww", "-z", str(MAN)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0 and r.stderr == b"", r.stderr.decode(errors="replace")
    man = need("man")
    env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
    r = subprocess.run([man, "--warnings", "-l", str(MAN)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=30)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert r.stderr == b"", r.stderr.decode(errors="replace")
    assert b"mica" in r.stdout


def test_man_page_has_its_sections():
    text = rendered()
    for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "CONFIGURATION", "ROUTES",
                 "SIGNALS", "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        assert re.search(rf"^{name}$", text, re.M), f"no {name} section"
    signals = section(text, "SIGNALS")
    for sig in ("SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1"):
        assert sig in signals, sig


def test_man_page_documents_every_option():
    options = section(rendered(), "OPTIONS")
    missing = [o for o in help_options()
               if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", options)]
    assert not missing, f"options in --help but not in the man page: {missing}"


def test_man_page_documents_every_config_key():
    conf = section(rendered(), "CONFIGURATION")
    missing = [k for k in config_keys()
               if not re.search(rf"^ +{re.escape(k)}\b", conf, re.M)]
    assert not missing, f"config keys not in the man page: {missing}"


def test_service_unit_verifies(tmp_path):
    analyze = need("systemd-analyze")
    text = UNIT.read_text()
    for directive in ("Type=simple", "ExecStart=/usr/local/bin/mica -c /etc/mica/config.json",
                      "ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=yes",
                      "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                      "PrivateDevices=yes", "ProtectKernelTunables=yes",
                      "ProtectKernelModules=yes",
                      "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                      "ReadWritePaths=/var/lib/mica /var/log/mica", "LimitNOFILE=65536",
                      "Restart=on-failure", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"):
        assert re.search(rf"^{re.escape(directive)}$", text, re.M), directive
    # verify checks that the programs exist: point it at the binary under test
    unit = tmp_path / "mica.service"
    unit.write_text(text.replace("/usr/local/bin/mica", os.path.abspath(MICA_BIN)))
    r = subprocess.run([analyze, "verify", "--man=no", str(unit)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0 and "mica.service" not in out, out
    # and the ExecStartPre/ExecReload check is a real option that works
    cfg = tmp_path / "config.json"
    cfg.write_text('{"root": "%s"}' % (REPO / "www"))
    r = subprocess.run([MICA_BIN, "-c", str(cfg), "--check-config"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=10)
    assert r.returncode == 0 and b"config OK" in r.stdout, r.stdout


def test_logrotate_conf_rotates_a_running_mica(make_server, tmp_path):
    logrotate = need("logrotate")
    logs = tmp_path / "logs"
    logs.mkdir()
    srv = make_server(args=["--access-log", str(logs / "access.log"),
                            "--error-log", str(logs / "error.log")])
    user = "root" if os.geteuid() == 0 else None
    text = LOGROTATE.read_text()
    assert "/var/log/mica/*.log {" in text and "su mica mica" in text
    assert "systemctl kill -s USR1 mica.service" in text
    # the same file with this test's folder, this user, and the signal sent by pid
    text = text.replace("/var/log/mica/", f"{logs}/")
    text = text.replace("systemctl kill -s USR1 mica.service", f"kill -USR1 {srv.pid}")
    if user:
        text = text.replace("mica mica", f"{user} {user}")
    else:
        text = "\n".join(l for l in text.splitlines()
                         if not re.match(r"\s*(su|create) ", l)) + "\n"
    conf = tmp_path / "logrotate.conf"
    conf.write_text(text)
    os.chmod(conf, 0o644)
    state = tmp_path / "state"
    r = subprocess.run([logrotate, "-d", "-s", str(state), str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0 and not re.search(r"^error:", out, re.M), out

    for i in range(20):
        assert request(srv, f"/?before-{i}")[0] == 200
    assert wait_for(lambda: len(read_lines(logs / "access.log")) == 20, timeout=3)
    r = subprocess.run([logrotate, "-f", "-s", str(state), str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert r.returncode == 0, r.stdout.decode(errors="replace")
    assert (logs / "access.log.1").exists()  # delaycompress: not compressed yet
    assert wait_for(lambda: "SIGUSR1: reopening" in (logs / "error.log.1").read_text()
                    if (logs / "error.log.1").exists() else False, timeout=3)
    for i in range(20):
        assert request(srv, f"/?after-{i}")[0] == 200
    code, err = srv.stop()
    assert code == 0, err
    old, new = read_lines(logs / "access.log.1"), read_lines(logs / "access.log")
    assert len(old) == 20 and all("before-" in l for l in old), old
    assert len(new) == 20 and all("after-" in l for l in new), new
    assert "mica stopped" in (logs / "error.log").read_text()
