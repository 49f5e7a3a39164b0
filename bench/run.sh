#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make bench`: wrk against mica, nginx, lighttpd and bench/fixed.c on the same docroot, in one
# run, interleaved over several rounds; medians and ratios to nginx. See bench/README.md.
#
#   BENCH_SECONDS=5        length of each measured wrk run
#   BENCH_ROUNDS=3         rounds; each round runs every scenario on every server
#   BENCH_WARMUP=1         seconds of unmeasured wrk before each measured run (0 = none)
#   BENCH_SCENARIOS=       space-separated scenario ids to run (default: all; see ALL_SCENARIOS)
#   BENCH_IDLE_CONNS=10000 connections held open in the "idle" scenario
#   BENCH_DOCS=auto        write docs/benchmarks.md and docs/benchmarks.svg: 1 always, 0 never,
#                          auto = only when every scenario ran
#   MICA_BIN=...           the mica binary (default build/release/mica)
#
# Writes the table to stdout and to bench/results/latest.md (git-ignored), and (see BENCH_DOCS)
# docs/benchmarks.md and docs/benchmarks.svg.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
MICA_BIN=${MICA_BIN:-$repo/build/release/mica}
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-1}
IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
DOCS=${BENCH_DOCS:-auto}
SERVER_CPU=0
WRK_CPU=1
MC_WORKERS=2            # workers/threads per server, and wrk threads, in the all-CPUs scenario
PIPELINE=16             # requests per write in the pipelined scenario (bench/pipeline.lua)
RATE_CONNS=16           # the fixed-rate latency scenario: connections ...
RATE_DELAY_MS=2         # ... each waiting this long after every response (bench/rate.lua)
START_TIMEOUT=5
export BENCH_PIPELINE=$PIPELINE BENCH_DELAY_MS=$RATE_DELAY_MS

die() { echo "bench: $*" >&2; exit 1; }

for tool in wrk nginx lighttpd taskset setsid cc curl python3 getconf openssl; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (make bench installs it via scripts/install-deps.sh bench)"
done
[ -x "$MICA_BIN" ] || die "$MICA_BIN not found: run make first"
[ "$(nproc)" -ge 2 ] || die "needs at least 2 CPUs (server on CPU $SERVER_CPU, wrk on CPU $WRK_CPU)"
case "$SECS$ROUNDS$WARMUP$IDLE_CONNS" in *[!0-9]*) die "BENCH_SECONDS, BENCH_ROUNDS, BENCH_WARMUP and BENCH_IDLE_CONNS must be whole numbers" ;; esac
[ "$ROUNDS" -ge 1 ] && [ "$SECS" -ge 1 ] && [ "$IDLE_CONNS" -ge 1 ] ||
    die "BENCH_SECONDS, BENCH_ROUNDS and BENCH_IDLE_CONNS must be at least 1"
case "$DOCS" in 0 | 1 | auto) ;; *) die "BENCH_DOCS must be 0, 1 or auto" ;; esac
TCK=$(getconf CLK_TCK)

# Every server, and the idle client, holds BENCH_IDLE_CONNS sockets at once: raise the soft
# limit on open files to the hard one (the servers inherit it).
hard_nofile=$(ulimit -Hn)
if [ "$hard_nofile" = unlimited ]; then ulimit -n 1048576 2>/dev/null || ulimit -n 65536; else ulimit -n "$hard_nofile"; fi
NOFILE=$(ulimit -n)
[ "$NOFILE" -ge $((IDLE_CONNS + 100)) ] ||
    die "the open-file limit is $NOFILE (hard limit $hard_nofile): too low for BENCH_IDLE_CONNS=$IDLE_CONNS"
WORKER_CONNS=$((IDLE_CONNS + 256))   # per-worker connection limit of every server

# ---- temporary workspace and cleanup --------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mica-bench.XXXXXX")
started=()   # pids of the servers this script started and has not stopped yet (all in the foreground)

# comm_of PID: the process's command name ("" if it is gone).
comm_of() { cat "/proc/$1/comm" 2>/dev/null || true; }

# children_of PID: the children of all the process's threads (nginx and lighttpd workers).
children_of() { cat "/proc/$1"/task/*/children 2>/dev/null || true; }

# kill_tree PID: TERM, up to 2 s to exit, then KILL; then KILL any of its children (noted before)
# that are still there and still have their parent's name (a worker the master left behind).
kill_tree() {
    local pid=$1 kids name _i k
    kids=$(children_of "$pid")
    name=$(comm_of "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _i in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for k in $kids; do
        [ -n "$name" ] && [ "$(comm_of "$k")" = "$name" ] && kill -KILL "$k" 2>/dev/null || true
    done
}

cleanup() {
    local pid
    for pid in "${started[@]}"; do kill_tree "$pid"; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$tmp/www" "$tmp/raw" "$repo/build/bench" "$here/results"
head -c 1024 /dev/urandom >"$tmp/www/1k.bin"
head -c 1048576 /dev/urandom >"$tmp/www/1m.bin"
# 100 KiB of JavaScript-like text: compressible, as real scripts are (about 4:1 with gzip).
awk 'BEGIN { srand(7); while (n < 102400) { l = sprintf("function f%d(a, b) { return a * %d + b - %d; } // %x\n", i, int(rand() * 1000), i++, int(rand() * 2^31)); printf "%s", l; n += length(l) } }' |
    head -c 102400 >"$tmp/www/100k.js"

# mica under test: a copy, so that a rebuild during the run cannot change it half-way (the idle
# rows start fresh instances in every round).
cp "$MICA_BIN" "$tmp/mica-under-test"
MICA_BIN=$tmp/mica-under-test
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$repo" status --porcelain -- src Makefile 2>/dev/null)" ]; then
    commit="$commit (+ uncommitted changes in src/ or Makefile)"
fi

# ---- build the fixed-answer reference ---------------------------------------------------------
FIXED_BIN=$repo/build/bench/fixed
if [ ! -x "$FIXED_BIN" ] || [ "$here/fixed.c" -nt "$FIXED_BIN" ]; then
    cc -O2 -std=c11 -Wall -Wextra -pthread -o "$FIXED_BIN" "$here/fixed.c" || die "could not compile bench/fixed.c"
fi

# wrk's handshake counter, and the switch that makes every handshake a full one (see tlsshim.c).
SHIM=$repo/build/bench/tlsshim.so
if [ ! -f "$SHIM" ] || [ "$here/tlsshim.c" -nt "$SHIM" ]; then
    cc -O2 -std=c11 -Wall -Wextra -shared -fPIC -o "$SHIM" "$here/tlsshim.c" -lssl -ldl ||
        die "could not compile bench/tlsshim.c (needs the OpenSSL headers, as mica does)"
fi

# ---- one certificate for every server's HTTPS -----------------------------------------------
# A self-signed ECDSA P-256 certificate (what --self-signed would make), written once, used by
# all servers alike so that the handshakes cost the same on every side.
"$MICA_BIN" --make-cert "$tmp/tls" >"$tmp/make-cert.out" 2>&1 ||
    die "mica --make-cert failed: $(cat "$tmp/make-cert.out")"
TLS_CERT=$tmp/tls/cert.pem TLS_KEY=$tmp/tls/key.pem
if [ -e /proc/net/tls_stat ]; then
    KTLS_NOTE="The kernel offers kTLS: mica may send files with SSL_sendfile; nginx and lighttpd are not configured for it."
else
    KTLS_NOTE="No kTLS in this kernel: all encrypt in user space."
fi

# lighttpd's HTTPS is a module (Debian: lighttpd-mod-openssl); without it lighttpd sits out the
# HTTPS rows.
mkdir -p "$tmp/lt-check"
printf 'server.modules = ("mod_openssl")\nserver.document-root = "%s"\nserver.port = 1\n' "$tmp/www" >"$tmp/lt-check/c.conf"
if lighttpd -tt -f "$tmp/lt-check/c.conf" >"$tmp/lt-check/out" 2>&1; then
    LT_TLS=1 LT_TLS_NOTE=""
else
    LT_TLS=0 LT_TLS_NOTE="lighttpd sits out the HTTPS rows: its mod_openssl does not load ($(head -n1 "$tmp/lt-check/out"))."
fi

# ---- helpers -------------------------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port_in_log NAME LOG PID [SCHEME]: prints the port from "listening on SCHEME://127.0.0.1:PORT"
# (SCHEME http by default).
wait_port_in_log() {
    local name=$1 log=$2 pid=$3 scheme=${4:-http} port="" _i
    for _i in $(seq $((START_TIMEOUT * 20))); do
        port=$(sed -n "s/.*listening on $scheme:\/\/127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p" "$log" | head -n1)
        [ -n "$port" ] && { echo "$port"; return 0; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "bench: $name did not start within ${START_TIMEOUT} s; its output:" >&2
    else
        echo "bench: $name exited before it was listening; its output:" >&2
    fi
    sed 's/^/    /' "$log" >&2
    return 1
}

# wait_http NAME PORT PATH SIZE LOG [SCHEME]: the server answers 200 with SIZE bytes within the
# timeout (SCHEME https: over TLS, the self-signed certificate accepted).
wait_http() {
    local name=$1 port=$2 path=$3 size=$4 log=$5 scheme=${6:-http} got="" _i
    for _i in $(seq $((START_TIMEOUT * 10))); do
        got=$(curl -s -k -o /dev/null -w '%{http_code} %{size_download}' --max-time 1 \
            "$scheme://127.0.0.1:$port$path" 2>/dev/null || true)
        [ "$got" = "200 $size" ] && return 0
        sleep 0.1
    done
    echo "bench: $name did not answer GET $path with 200 and $size bytes within ${START_TIMEOUT} s (got '$got'); its output:" >&2
    sed 's/^/    /' "$log" >&2
    for f in "$tmp/$name/error.log" "$tmp/$name-error.log"; do
        [ -s "$f" ] && { echo "  $f:" >&2; sed 's/^/    /' "$f" >&2; }
    done
    return 1
}

# pids_of INST: the server's processes whose CPU time and memory count (nginx: master + workers;
# lighttpd: the process, and its workers if it has them; mica and fixed: one process).
pids_of() {
    local pid=${PID[$1]}
    echo "$pid"
    children_of "$pid"
}

# cpu_ticks PID...: utime+stime (fields 14 and 15 of /proc/PID/stat), summed, in clock ticks.
cpu_ticks() {
    local sum=0 pid stat rest
    for pid in "$@"; do
        read -r stat <"/proc/$pid/stat" || die "process $pid is gone"
        rest=${stat##*) }   # the command name may hold spaces; fields resume at 3 (state)
        # shellcheck disable=SC2086
        set -- $rest
        sum=$((sum + ${12} + ${13}))
    done
    echo "$sum"
}

# others_snapshot PID...: "pid ticks" (utime+stime) of every process on the machine except this
# script, its children other than the servers (wrk, curl, awk …), and the given pids (the server
# being measured). other_pct BEFORE AFTER
# SECONDS: the CPU time those processes used between two snapshots, in % of one CPU (a process
# that started in between counts in full, one that exited is lost). That is load other programs
# put on the two CPUs that the server and wrk should have. (/proc/stat's per-CPU ticks are
# sampled, and disagree with the per-process times on this VM, so they are not used.)
others_snapshot() {
    local f pid stat rest skip=" $$ $BASHPID $* " servers=" ${started[*]} "
    for f in /proc/[0-9]*/stat; do
        pid=${f#/proc/}; pid=${pid%/stat}
        case "$skip" in *" $pid "*) continue ;; esac
        { read -r stat <"$f"; } 2>/dev/null || continue
        rest=${stat##*) }
        # shellcheck disable=SC2086
        set -- $rest
        # field 4, the parent: our own tools (wrk, curl …) do not count, but the servers that are
        # not being measured do (they should be idle; one that spins takes CPU from the others).
        [ "$2" = "$$" ] && [[ "$servers" != *" $pid "* ]] && continue
        echo "$pid $((${12} + ${13}))"
    done
}

other_pct() {
    awk -v k="$TCK" -v secs="$3" 'NR == FNR { b[$1] = $2; next }
        { d = $2 - (($1 in b) ? b[$1] : 0); if (d > 0) s += d }
        END { printf "%.0f\n", (secs > 0 ? 100 * s / k / secs : 0) }' "$1" "$2"
}

# other_load: the load other programs put on the machine over one second, in % of one CPU.
other_load() {
    others_snapshot >"$tmp/others.0"; sleep 1; others_snapshot >"$tmp/others.1"
    other_pct "$tmp/others.0" "$tmp/others.1" 1
}

# spin_ms: wall time, in ms, of a fixed busy loop run on both CPUs at once (the server's and
# wrk's). The machine's CPU time can be taken away where no process here can see it (on this
# VM, by the host: the servers then ran at half speed for minutes while "other %" stayed at 0),
# so each run is bracketed by this check and the report gives "CPU speed %" = the median of 5
# spins at the start / this run's slower spin. It moves between about 60 and 110 % when all is
# well (the VM's CPUs themselves vary, in phases of seconds); the slowdown seen was to ~50 %.
spin_ms() {
    local s e p0 p1 k best=999999 t
    for k in 1 2; do   # the better of two: one alone varies more
        s=$EPOCHREALTIME
        taskset -c "$SERVER_CPU" awk 'BEGIN { for (i = 0; i < 3000000; i++) s += i }' &
        p0=$!
        taskset -c "$WRK_CPU" awk 'BEGIN { for (i = 0; i < 3000000; i++) s += i }' &
        p1=$!
        wait "$p0" "$p1"
        e=$EPOCHREALTIME
        t=$(awk -v s="${s/,/.}" -v e="${e/,/.}" 'BEGIN { printf "%.0f\n", (e - s) * 1000 }')
        [ "$t" -lt "$best" ] && best=$t
    done
    echo "$best"
}

# to_us VALUE: a wrk duration (e.g. 612.00us, 1.20ms, 2.00s) in microseconds.
to_us() {
    awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        f = (u == "us") ? 1 : (u == "ms") ? 1000 : (u == "s") ? 1000000 : (u == "m") ? 60000000 : -1;
        if (f < 0) print "nan"; else printf "%.1f\n", n * f }'
}

# to_mib VALUE: a wrk size (binary units: 1.5GB, 800.00MB, 12KB, 100B) in MiB.
to_mib() {
    awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        f = (u == "B") ? 1/1048576 : (u == "KB") ? 1/1024 : (u == "MB") ? 1 : (u == "GB") ? 1024 : (u == "TB") ? 1048576 : -1;
        if (f < 0) print "nan"; else printf "%.3f\n", n * f }'
}

# The figures assume an otherwise idle machine: note how busy it is before we start.
idle_load=$(other_load)
# The reference for "CPU speed %": the median of 5 spins on the machine as it is now.
SPIN_REF=$(for _ in 1 2 3 4 5; do spin_ms; done | sort -n | sed -n 3p)
if [ "$idle_load" -gt 10 ]; then
    echo "bench: WARNING: before the run other programs already used ${idle_load} % of a CPU;" \
        "the figures will be noisy (see the 'other' column)" >&2
fi

# ---- the servers -----------------------------------------------------------------------------
# An instance is NAME (1 worker/thread on CPU $SERVER_CPU, with HTTPS; started once for the whole
# run), NAME.mc ($MC_WORKERS workers/threads, not pinned; started once) or NAME.idle (as NAME,
# without HTTPS; started afresh for each memory measurement and stopped after it).
# Each server runs in a session (and process group) of its own, under setsid: lighttpd's
# supervisor stops its workers with kill(0, SIGTERM), which would otherwise hit this script and
# whatever started it. setsid does not fork here (a background job is no group leader), so $! is
# the server's pid.
declare -A PID PORT TLS_PORT LOG
PIN=()

# mica's settings beyond the command line: as many connections as the others, nginx's keep-alive.
printf '{ "max_connections": %d, "keepalive_timeout_s": 65 }\n' "$WORKER_CONNS" >"$tmp/mica.json"

start_nginx() {
    local inst=$1 workers=$2 tls=$3 dir=$tmp/$1 port tls_port="" user_line="" ssl_lines=""
    mkdir -p "$dir"
    port=$(free_port)
    if [ "$tls" = 1 ]; then
        tls_port=$(free_port)
        ssl_lines="listen 127.0.0.1:$tls_port ssl;
        ssl_certificate $TLS_CERT;
        ssl_certificate_key $TLS_KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_tickets on;"
    fi
    # As root, nginx's workers would switch to "nobody", who cannot read the 0700 temp dir.
    [ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);"
    cat >"$dir/nginx.conf" <<EOF
# generated by bench/run.sh
$user_line
worker_processes $workers;
worker_rlimit_nofile $NOFILE;
master_process on;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections $WORKER_CONNS;
}
http {
    types { application/octet-stream bin; text/html html; text/javascript js; }
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    gzip on;
    gzip_types text/javascript;
    gzip_min_length 1024;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:$port;
        $ssl_lines
        root $tmp/www;
        location / { }
    }
}
EOF
    setsid "${PIN[@]}" nginx -p "$dir" -c "$dir/nginx.conf" -e stderr >"${LOG[$inst]}" 2>&1 </dev/null &
    PID[$inst]=$!
    started+=("$!")
    PORT[$inst]=$port
    TLS_PORT[$inst]=$tls_port
}

start_lighttpd() {
    local inst=$1 workers=$2 tls=$3 dir=$tmp/$1 port tls_port="" modules='"mod_deflate"' ssl_lines=""
    mkdir -p "$dir/deflate" "$dir/upload"
    port=$(free_port)
    if [ "$tls" = 1 ] && [ "$LT_TLS" = 1 ]; then
        tls_port=$(free_port)
        modules="$modules, \"mod_openssl\""
        ssl_lines="ssl.openssl.ssl-conf-cmd = (\"MinProtocol\" => \"TLSv1.2\")
\$SERVER[\"socket\"] == \"127.0.0.1:$tls_port\" {
    ssl.engine = \"enable\"
    ssl.pemfile = \"$TLS_CERT\"
    ssl.privkey = \"$TLS_KEY\"
}"
    fi
    # server.max-worker = 0: one process (the default); N > 0 forks N workers under a supervisor.
    # No mod_accesslog: no access log. deflate.cache-dir: compressed files are kept (by path and
    # ETag) and sent from there, as Debian's packaged configuration does.
    cat >"$dir/lighttpd.conf" <<EOF
# generated by bench/run.sh
server.modules = ( $modules )
server.document-root = "$tmp/www"
server.bind = "127.0.0.1"
server.port = $port
server.errorlog = "$dir/error.log"
server.upload-dirs = ( "$dir/upload" )
server.max-worker = $([ "$workers" -gt 1 ] && echo "$workers" || echo 0)
server.max-fds = $NOFILE
server.max-connections = $WORKER_CONNS
server.max-keep-alive-requests = 65535
server.max-keep-alive-idle = 65
mimetype.assign = ( ".bin" => "application/octet-stream", ".js" => "text/javascript", ".html" => "text/html" )
deflate.mimetypes = ( "text/javascript" )
deflate.allowed-encodings = ( "gzip" )
deflate.cache-dir = "$dir/deflate"
$ssl_lines
EOF
    setsid "${PIN[@]}" lighttpd -D -f "$dir/lighttpd.conf" >"${LOG[$inst]}" 2>&1 </dev/null &
    PID[$inst]=$!
    started+=("$!")
    PORT[$inst]=$port
    TLS_PORT[$inst]=$tls_port
}

start_mica() {
    local inst=$1 workers=$2 tls=$3 tls_port=""
    local -a tls_args=()
    if [ "$tls" = 1 ]; then
        tls_port=$(free_port)
        tls_args=(--tls-port "$tls_port" --cert "$TLS_CERT" --key "$TLS_KEY")
    fi
    (cd "$repo" && exec setsid "${PIN[@]}" "$MICA_BIN" -c "$tmp/mica.json" --threads "$workers" --bind 127.0.0.1 \
        --port 0 "${tls_args[@]}" --access-log off --error-log "$tmp/$inst-error.log" --root "$tmp/www" \
        --templates "$repo/templates") >"${LOG[$inst]}" 2>&1 </dev/null &
    PID[$inst]=$!
    started+=("$!")
    PORT[$inst]=$(wait_port_in_log "$inst" "${LOG[$inst]}" "${PID[$inst]}") || exit 1
    TLS_PORT[$inst]=""
    if [ "$tls" = 1 ]; then
        TLS_PORT[$inst]=$(wait_port_in_log "$inst" "${LOG[$inst]}" "${PID[$inst]}" https) || exit 1
        [ "${TLS_PORT[$inst]}" = "$tls_port" ] || die "mica serves HTTPS on ${TLS_PORT[$inst]}, not $tls_port"
    fi
}

start_fixed() {
    local inst=$1 workers=$2
    setsid "${PIN[@]}" "$FIXED_BIN" 0 "$workers" >"${LOG[$inst]}" 2>&1 </dev/null &
    PID[$inst]=$!
    started+=("$!")
    PORT[$inst]=$(wait_port_in_log "$inst" "${LOG[$inst]}" "${PID[$inst]}") || exit 1
    TLS_PORT[$inst]=""
}

# start_server INST: starts it and waits until it serves /1k.bin.
start_server() {
    local inst=$1 name=${1%%.*} workers=1 tls=1
    PIN=(taskset -c "$SERVER_CPU")
    case "$inst" in
    *.mc) workers=$MC_WORKERS PIN=() tls=0 ;;
    *.idle) tls=0 ;;
    esac
    LOG[$inst]=$tmp/$inst.out
    "start_$name" "$inst" "$workers" "$tls"
    wait_http "$inst" "${PORT[$inst]}" /1k.bin 1024 "${LOG[$inst]}" || exit 1
}

# stop_server INST: stops it (and its workers) and forgets its pid.
stop_server() {
    local inst=$1 pid=${PID[$1]} p
    local -a keep=()
    kill_tree "$pid"
    for p in "${started[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    started=("${keep[@]}")
}

SERVERS="nginx mica lighttpd fixed"
for name in $SERVERS; do start_server "$name"; start_server "$name.mc"; done
for inst in nginx mica lighttpd; do
    wait_http "$inst" "${PORT[$inst]}" /1m.bin 1048576 "${LOG[$inst]}" || exit 1
done
wait_http nginx "${TLS_PORT[nginx]}" /1k.bin 1024 "${LOG[nginx]}" https || exit 1
wait_http mica "${TLS_PORT[mica]}" /1k.bin 1024 "${LOG[mica]}" https || exit 1
if [ "$LT_TLS" = 1 ]; then
    wait_http lighttpd "${TLS_PORT[lighttpd]}" /1k.bin 1024 "${LOG[lighttpd]}" https || exit 1
fi

# Every real server must compress /100k.js; note how large each one's gzip body is (the
# compression level differs: nginx's gzip_comp_level is 1 by default, mica uses 6, lighttpd
# zlib's default).
declare -A GZ_BYTES
for name in nginx mica lighttpd; do
    hdrs=$(curl -s -o "$tmp/gz.$name" -D - -H 'Accept-Encoding: gzip' "http://127.0.0.1:${PORT[$name]}/100k.js" | tr -d '\r')
    enc=$(awk -F': ' 'tolower($1) == "content-encoding" { print $2 }' <<<"$hdrs")
    [ "$enc" = gzip ] || die "$name does not gzip /100k.js (Content-Encoding: '$enc')"
    gzip -dc "$tmp/gz.$name" | cmp -s - "$tmp/www/100k.js" || die "$name's gzip body does not unpack to /100k.js"
    GZ_BYTES[$name]=$(stat -c %s "$tmp/gz.$name")
done

# What each server negotiates with a default OpenSSL client (wrk uses the same library and
# defaults): "TLSv1.3 TLS_AES_256_GCM_SHA384 X25519". The TLS rows compare like with like only
# if all servers pick the same protocol, cipher and key exchange.
tls_negotiated() {
    local out proto cipher kex
    out=$(openssl s_client -connect "127.0.0.1:$1" -servername localhost </dev/null 2>&1 || true)
    # "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384" (the SSL-Session block may not be printed)
    proto=$(awk '/^New, / { sub(/,$/, "", $2); print $2; exit }' <<<"$out")
    cipher=$(awk '/^New, / { print $NF; exit }' <<<"$out")
    kex=$(awk -F': ' '/^Server Temp Key:/ { sub(/,.*/, "", $2); print $2; exit }' <<<"$out")
    echo "${proto:-?} ${cipher:-?} ${kex:-?}"
}
TLS_PARAMS=$(tls_negotiated "${TLS_PORT[nginx]}")
mica_tls=$(tls_negotiated "${TLS_PORT[mica]}")
[ "$TLS_PARAMS" = "$mica_tls" ] && [[ "$TLS_PARAMS" != *"?"* ]] ||
    die "the servers negotiate different TLS parameters (nginx: $TLS_PARAMS; mica: $mica_tls)"
if [ "$LT_TLS" = 1 ]; then
    lt_tls=$(tls_negotiated "${TLS_PORT[lighttpd]}")
    if [ "$lt_tls" != "$TLS_PARAMS" ]; then
        LT_TLS=0 LT_TLS_NOTE="lighttpd sits out the HTTPS rows: it negotiates $lt_tls, nginx and mica $TLS_PARAMS."
    fi
fi

# ---- scenarios --------------------------------------------------------------------------------
# id | chart label (| = new line) | title | connections | path | servers | headline | header | scheme | set | script
#   headline: rps (requests/s), mibs (MiB/s), lat (latency at a fixed rate), mem (idle connections)
#   set: pin (the 1-worker servers on CPU 0, wrk -t1 on CPU 1), mc (2 workers each, nothing pinned,
#        wrk -t2); script: pipe (bench/pipeline.lua), rate (bench/rate.lua)
ALL_SCENARIOS=(
    "1k;1 KiB|1 CPU;1 KiB file, keep-alive, 64 connections, 1 worker on 1 CPU;64;/1k.bin;nginx mica lighttpd fixed;rps;;http;pin;"
    "1kmc;1 KiB|2 CPUs;1 KiB file, keep-alive, 64 connections, every server with $MC_WORKERS workers, nothing pinned, wrk with $MC_WORKERS threads on the same 2 CPUs;64;/1k.bin;nginx mica lighttpd fixed;rps;;http;mc;"
    "close;1 KiB|Conn: close;1 KiB file, Connection: close (a new connection per request), 64 connections;64;/1k.bin;nginx mica lighttpd fixed;rps;Connection: close;http;pin;"
    "pipe;1 KiB|pipelined ×$PIPELINE;1 KiB file, pipelined: $PIPELINE requests per write, 64 connections;64;/1k.bin;nginx mica lighttpd fixed;rps;;http;pin;pipe"
    "1m;1 MiB|file;1 MiB file, keep-alive, 8 connections;8;/1m.bin;nginx mica lighttpd;mibs;;http;pin;"
    "gz;100 KiB JS|gzip;100 KiB JavaScript, Accept-Encoding: gzip, keep-alive, 64 connections;64;/100k.js;nginx mica lighttpd;rps;Accept-Encoding: gzip;http;pin;"
    "idle;;$IDLE_CONNS idle keep-alive connections: memory per connection;$IDLE_CONNS;/1k.bin;nginx mica lighttpd;mem;;http;pin;"
    "lat;1 KiB|fixed rate;latency at a fixed moderate rate: 1 KiB file, $RATE_CONNS connections, each waiting $RATE_DELAY_MS ms after every response;$RATE_CONNS;/1k.bin;nginx mica lighttpd fixed;lat;;http;pin;rate"
    "tls1k;HTTPS|1 KiB;HTTPS: 1 KiB file, keep-alive, 64 connections;64;/1k.bin;nginx mica lighttpd;rps;;https;pin;"
    "tlshs;HTTPS|full hs;HTTPS: a new connection and a full TLS handshake per request (Connection: close, no resumption), 32 connections;32;/1k.bin;nginx mica lighttpd;rps;Connection: close;https-full;pin;"
    "tlsres;HTTPS|resumed;HTTPS: a new connection per request, session resumed from a ticket (Connection: close), 32 connections;32;/1k.bin;nginx mica lighttpd;rps;Connection: close;https;pin;"
)
ALL_IDS=$(for s in "${ALL_SCENARIOS[@]}"; do printf '%s ' "${s%%;*}"; done)
SCENARIOS=()
for s in "${ALL_SCENARIOS[@]}"; do
    if [ -z "${BENCH_SCENARIOS:-}" ] || [[ " $BENCH_SCENARIOS " == *" ${s%%;*} "* ]]; then
        SCENARIOS+=("$s")
    fi
done
[ "${#SCENARIOS[@]}" -gt 0 ] || die "BENCH_SCENARIOS='${BENCH_SCENARIOS:-}' names none of: $ALL_IDS"
for id in ${BENCH_SCENARIOS:-}; do
    [[ " $ALL_IDS " == *" $id "* ]] || die "unknown scenario '$id' in BENCH_SCENARIOS (known: $ALL_IDS)"
done

# servers_for SERVERS SCHEME: the servers that take part (lighttpd not in HTTPS rows without TLS).
servers_for() {
    local s out=""
    for s in $1; do
        [ "$s" = lighttpd ] && [[ "$2" == https* ]] && [ "$LT_TLS" != 1 ] && continue
        out="$out $s"
    done
    echo "${out# }"
}

# rotated ROUND WORD...: the words rotated left by ROUND-1 (each round starts with another server).
rotated() {
    local r=$1; shift
    local -a w=("$@")
    local n=${#w[@]} i out=""
    for ((i = 0; i < n; i++)); do out="$out ${w[$(((i + r - 1) % n))]}"; done
    echo "${out# }"
}

runs=0 idles=0
for s in "${SCENARIOS[@]}"; do
    IFS=';' read -r id _ _ _ _ srv _ _ scheme _ _ <<<"$s"
    # shellcheck disable=SC2046
    set -- $(servers_for "$srv" "$scheme")
    if [ "$id" = idle ]; then idles=$((idles + $#)); else runs=$((runs + $#)); fi
done
echo "bench: servers (port, pid):$(for i in "${!PID[@]}"; do printf ' %s %s/%s' "$i" "${PORT[$i]}" "${PID[$i]}"; done)"
echo "bench: 1-worker servers on CPU $SERVER_CPU, wrk on CPU $WRK_CPU; HTTPS negotiates $TLS_PARAMS${LT_TLS_NOTE:+; $LT_TLS_NOTE}"
echo "bench: $ROUNDS rounds x ($runs runs x (${WARMUP} s warm-up + $SECS s) + $idles idle measurements)" \
    "≈ $((ROUNDS * (runs * (SECS + WARMUP + 1) + idles * 5) / 60 + 1)) min"

# measure SCENARIO_ID SERVER ROUND: one wrk run with the scenario's settings (S_*); appends a
# line to $tmp/raw/ID.SERVER:
#   round rps requests cpu_s req_per_cpu_s cpu_util p50_us p99_us mib_s errors other bytes_per_response spin_ms
measure() {
    local id=$1 name=$2 round=$3 inst=$2 url out t0 t1 pids other
    local -a hdr=() wrk_env=() wrk_cmd=() lua=()
    [ "$S_SET" = mc ] && inst=$name.mc
    [ -n "$S_HEADER" ] && hdr=(-H "$S_HEADER")
    case "$S_SCRIPT" in
    pipe) lua=(-s "$here/pipeline.lua") ;;
    rate) lua=(-s "$here/rate.lua") ;;
    esac
    if [ "$S_SET" = mc ]; then
        wrk_cmd=(wrk -t"$MC_WORKERS")
    else
        wrk_cmd=(taskset -c "$WRK_CPU" wrk -t1)
    fi
    case "$S_SCHEME" in
    https*)
        url="https://127.0.0.1:${TLS_PORT[$inst]}$S_PATH"
        # https-full: every handshake a full one; https: as wrk does (resumes). Counted either way.
        wrk_env=(LD_PRELOAD="$SHIM" TLS_SHIM_FRESH="$([ "$S_SCHEME" = https-full ] && echo 1 || echo 0)")
        ;;
    *) url="http://127.0.0.1:${PORT[$inst]}$S_PATH" ;;
    esac
    if [ "$WARMUP" -gt 0 ]; then
        env "${wrk_env[@]}" "${wrk_cmd[@]}" -c"$S_CONNS" -d"${WARMUP}s" "${hdr[@]}" "${lua[@]}" "$url" >/dev/null 2>&1 || true
    fi
    out=$tmp/raw/$id.$name.$round.wrk
    local spin0 spin1 speed
    spin0=$(spin_ms)
    pids=$(pids_of "$inst")
    # shellcheck disable=SC2086
    t0=$(cpu_ticks $pids)
    # shellcheck disable=SC2086
    others_snapshot $pids >"$tmp/others.0"
    rm -f "$out.hs"
    [ "${#wrk_env[@]}" -gt 0 ] && wrk_env+=(TLS_SHIM_STATS="$out.hs")
    env "${wrk_env[@]}" "${wrk_cmd[@]}" -c"$S_CONNS" -d"${SECS}s" --latency "${hdr[@]}" "${lua[@]}" "$url" >"$out" 2>&1 ||
        die "wrk failed against $inst: $(cat "$out")"
    if [ "${#wrk_env[@]}" -gt 0 ]; then
        # "full N resumed M": the handshakes wrk completed during the measured run.
        [ -s "$out.hs" ] || die "no handshake counts from wrk (LD_PRELOAD of $SHIM did not take)"
        read -r _ hs_full _ hs_resumed <"$out.hs"
        echo "$round $hs_full $hs_resumed" >>"$tmp/raw/$id.$name.hs"
        if [ "$S_SCHEME" = https-full ] && [ "$hs_resumed" -gt 0 ]; then
            echo "bench: WARNING: $name, $id, round $round: $hs_resumed handshakes were resumed" >&2
        fi
    fi
    # shellcheck disable=SC2086
    t1=$(cpu_ticks $pids)
    # shellcheck disable=SC2086
    others_snapshot $pids >"$tmp/others.1"
    kill -0 "${PID[$inst]}" 2>/dev/null || die "$inst died during the run; its output: $(cat "${LOG[$inst]}")"
    spin1=$(spin_ms)
    [ "$spin1" -gt "$spin0" ] && spin0=$spin1
    speed=$((100 * SPIN_REF / spin0))

    local rps reqs dur p50 p99 xfer errs non2xx bpr
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    reqs=$(awk '/ requests in / { print $1 }' "$out")
    dur=$(awk '/ requests in / { s = $4; sub(/,$/, "", s); print s }' "$out")
    p50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$out")")
    p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$out")")
    # With pipelining wrk's latency distribution is wrong (0 from the 75th percentile up): none.
    [ "$S_SCRIPT" = pipe ] && p50=nan p99=nan
    xfer=$(to_mib "$(awk '/^Transfer\/sec:/ { print $2 }' "$out")")
    errs=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    errs=$(( ${errs:-0} + ${non2xx:-0} ))
    [ -n "$rps" ] && [ -n "$reqs" ] || die "could not read wrk's output for $inst: $(cat "$out")"
    if [ "$errs" -gt 0 ]; then
        echo "bench: WARNING: $inst, $id, round $round: wrk reported errors:" >&2
        grep -E 'Socket errors|Non-2xx' "$out" | sed 's/^/    /' >&2
    fi
    # bytes read per response (wrk's transfer rate / request rate): a check that gzip happened
    bpr=$(awk -v m="$xfer" -v r="$rps" 'BEGIN { printf "%.0f\n", (r > 0 ? m * 1048576 / r : 0) }')
    if [ "$id" = gz ] && [ "$bpr" -gt 61440 ]; then
        echo "bench: WARNING: $inst, gz, round $round: $bpr bytes per response: not compressed?" >&2
    fi
    # CPU time of other programs during the run, in % of one CPU: above a few %, they took CPU
    # from the server or wrk and the figures are unreliable.
    other=$(other_pct "$tmp/others.0" "$tmp/others.1" "${dur%s}")
    if [ "$other" -gt 5 ]; then
        echo "bench: WARNING: other programs used ${other} % of a CPU during this run" >&2
    fi
    if [ "$speed" -lt 55 ]; then
        echo "bench: WARNING: the CPUs ran at ${speed} % of their usual speed around this run (spin check)" >&2
    fi
    awk -v r="$round" -v o="$other" -v rps="$rps" -v n="$reqs" -v d="${dur%s}" -v t="$((t1 - t0))" -v tck="$TCK" \
        -v p50="$p50" -v p99="$p99" -v mib="$xfer" -v e="$errs" -v b="$bpr" -v sp="$spin0" 'BEGIN {
            cpu = t / tck; d += 0;
            printf "%d %.1f %d %.2f %s %s %s %s %s %d %s %s %s\n", r, rps, n, cpu,
                (cpu > 0 ? sprintf("%.0f", n / cpu) : "inf"), (d > 0 ? sprintf("%.0f", 100 * cpu / d) : "nan"),
                p50, p99, mib, e, o, b, sp }' >>"$tmp/raw/$id.$name"
    printf '  round %d  %-6s %-8s %10.0f req/s  %6.2f CPU-s  %10s req/CPU-s  p50 %8s us  p99 %8s us  other %3s %%  speed %3s %%%s\n' \
        "$round" "$id" "$name" \
        "$rps" "$(awk -v t="$((t1 - t0))" -v k="$TCK" 'BEGIN { print t / k }')" \
        "$(tail -n1 "$tmp/raw/$id.$name" | cut -d' ' -f5)" "$p50" "$p99" "$other" "$speed" \
        "$([ "$errs" -gt 0 ] && echo "  ERRORS $errs" || true)"
}

# measure_idle SERVER ROUND: a fresh instance (1 worker on CPU 0, as in the other rows) that has
# answered one request; its RSS before and after bench/idle.py opened $IDLE_CONNS keep-alive
# connections that each made one request. Appends to $tmp/raw/idle.SERVER:
#   round rss_before_kib rss_after_kib opened failed bytes_per_connection other
measure_idle() {
    local name=$1 round=$2 inst=$1.idle line before after opened failed pids other
    start_server "$inst"
    pids=$(pids_of "$inst")
    # shellcheck disable=SC2086
    others_snapshot $pids >"$tmp/others.0"
    local t0=$SECONDS
    # shellcheck disable=SC2086
    line=$(python3 "$here/idle.py" "${PORT[$inst]}" "$IDLE_CONNS" /1k.bin $pids 2>"$tmp/idle.err") ||
        die "bench/idle.py failed against $inst: $(cat "$tmp/idle.err")"
    # shellcheck disable=SC2086
    others_snapshot $pids >"$tmp/others.1"
    other=$(other_pct "$tmp/others.0" "$tmp/others.1" "$((SECONDS - t0 > 0 ? SECONDS - t0 : 1))")
    kill -0 "${PID[$inst]}" 2>/dev/null || die "$inst died while it held the idle connections: $(cat "${LOG[$inst]}")"
    stop_server "$inst"
    read -r before after opened failed <<<"$line"
    if [ "$failed" -gt 0 ]; then
        echo "bench: WARNING: $inst, idle, round $round: $failed of $IDLE_CONNS connections failed: $(cat "$tmp/idle.err")" >&2
    fi
    awk -v r="$round" -v b="$before" -v a="$after" -v n="$opened" -v f="$failed" -v o="$other" 'BEGIN {
        printf "%d %d %d %d %d %.0f %s\n", r, b, a, n, f, (n > 0 ? (a - b) * 1024 / n : 0), o }' >>"$tmp/raw/idle.$name"
    printf '  round %d  %-6s %-8s RSS %7d -> %7d KiB with %d connections (%d failed): %6s bytes each  other %3s %%\n' \
        "$round" idle "$name" "$before" "$after" "$opened" "$failed" "$(tail -n1 "$tmp/raw/idle.$name" | cut -d' ' -f6)" "$other"
}

bench_t0=$SECONDS
for round in $(seq "$ROUNDS"); do
    echo "== round $round/$ROUNDS =="
    for s in "${SCENARIOS[@]}"; do
        IFS=';' read -r id _ _ S_CONNS S_PATH servers _ S_HEADER S_SCHEME S_SET S_SCRIPT <<<"$s"
        # shellcheck disable=SC2046
        for name in $(rotated "$round" $(servers_for "$servers" "$S_SCHEME")); do
            if [ "$id" = idle ]; then measure_idle "$name" "$round"; else measure "$id" "$name" "$round"; fi
        done
    done
done
bench_minutes=$(( (SECONDS - bench_t0 + 30) / 60 ))

# ---- report -----------------------------------------------------------------------------------
# median FILE COLUMN
median() {
    [ -f "$1" ] || { echo nan; return; }
    awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
              else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "nan" && b + 0 > 0) printf "%.2f\n", a / b; else print "–" }'; }
# per-round ratios of COLUMN between two servers, e.g. "1.02 0.98 1.01"; NCOLS: columns per line
paired() {
    join <(sort -k1,1 "$1") <(sort -k1,1 "$2") |
        awk -v c="$3" -v w="${4:-13}" '{ base = $(c); other = $(c + w - 1); printf "%s%.2f", (NR > 1 ? " " : ""), (base > 0 ? other / base : 0) }'
}
# fmt VALUE DECIMALS: a number, or "–"
fmt() { awk -v v="$1" -v d="$2" 'BEGIN { if (v == "nan" || v == "") print "–"; else printf "%.*f\n", d, v }'; }

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
nginx_v=$(nginx -v 2>&1 | sed 's/^nginx version: //')
lighttpd_v=$(lighttpd -v 2>&1 | head -n1 | sed 's/ - .*//')
wrk_v=$({ wrk --version 2>&1 || true; } | awk 'NR == 1 { print $2 }')   # wrk --version exits 1
mica_v=$({ "$MICA_BIN" --version 2>&1 || true; } | head -n1)
run_date=$(date -u '+%Y-%m-%d %H:%M UTC')
machine="$cpu_model, $(nproc) CPUs, $(awk '/^MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"

# The summary: one or two rows per scenario, the medians of each server and their ratios to nginx.
summary_table() {
    local s id title servers headline scheme name n col label dec f
    echo "| scenario | figure | nginx | mica | lighttpd | fixed | mica/nginx | lighttpd/nginx | fixed/nginx | other % | CPU speed % |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for s in "${SCENARIOS[@]}"; do
        IFS=';' read -r id label title _ _ servers headline _ scheme _ _ <<<"$s"
        servers=$(servers_for "$servers" "$scheme")
        label=${label//|/, }
        [ "$id" = idle ] && label="idle connections"
        local -a rows=()
        case "$headline" in
        rps) rows=("2 req/s 0" "5 req per CPU-s 0") ;;
        mibs) rows=("9 MiB/s 0" "5 req per CPU-s 0") ;;
        lat) rows=("7 p50 (ms) 3" "8 p99 (ms) 3" "5 req per CPU-s 0") ;;
        mem) rows=("6 bytes per connection 0") ;;
        esac
        local first=1 row
        for row in "${rows[@]}"; do
            col=${row%% *} f=${row#* } dec=${f##* } f=${f% *}
            local cells="" ratios="" base="" v other="" o speed="" sp
            [ "$id" = idle ] && ocol=7 || ocol=11
            base=$(median "$tmp/raw/$id.nginx" "$col")
            for name in nginx mica lighttpd fixed; do
                if [[ " $servers " == *" $name "* ]]; then
                    v=$(median "$tmp/raw/$id.$name" "$col")
                    [ "$col" = 7 ] || [ "$col" = 8 ] && [ "$id" != idle ] && v=$(awk -v x="$v" 'BEGIN { print x / 1000 }')
                    cells="$cells | $(fmt "$v" "$dec")"
                    [ "$name" != nginx ] && ratios="$ratios | $(ratio "$(median "$tmp/raw/$id.$name" "$col")" "$base")"
                    o=$(median "$tmp/raw/$id.$name" "$ocol")
                    other=$(awk -v a="$other" -v b="$o" 'BEGIN { print (a == "" || b + 0 > a + 0) ? b + 0 : a }')
                    if [ "$id" != idle ]; then
                        sp=$(median "$tmp/raw/$id.$name" 13)
                        speed=$(awk -v a="$speed" -v b="$sp" -v best="$SPIN_REF" 'BEGIN { v = (b > 0 ? 100 * best / b : 0);
                            print (a == "" || v < a + 0) ? v : a }')
                    fi
                else
                    cells="$cells | –"
                    [ "$name" != nginx ] && ratios="$ratios | –"
                fi
            done
            if [ "$first" = 1 ]; then
                echo "| $label | $f$cells$ratios | $(fmt "$other" 0) | $(fmt "$speed" 0) |"
            else
                echo "| | $f$cells$ratios | | |"
            fi
            first=0
        done
    done
}

# The detail of one scenario: every figure, per server, and the per-round ratios.
scenario_detail() {
    local s=$1 id label title path servers headline scheme name f n
    IFS=";" read -r id label title _ path servers headline _ scheme _ _ <<<"$s"
    servers=$(servers_for "$servers" "$scheme")
    echo
    echo "### $title ($path)"
    echo
    if [ "$id" = idle ]; then
        echo "| server | RSS before | RSS with the connections | connections | failed | bytes per connection | × nginx | other % |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
        for name in $servers; do
            f=$tmp/raw/idle.$name
            awk -v n="$name" -v b="$(median "$f" 2)" -v a="$(median "$f" 3)" -v c="$(median "$f" 4)" \
                -v x="$(awk '{ s += $5 } END { print s + 0 }' "$f")" -v bpc="$(median "$f" 6)" -v o="$(median "$f" 7)" \
                -v r="$(ratio "$(median "$f" 6)" "$(median "$tmp/raw/idle.nginx" 6)")" 'BEGIN {
                printf "| %s | %.1f MiB | %.1f MiB | %d | %d | %.0f | %s | %.0f |\n", n, b / 1024, a / 1024, c, x, bpc, r, o }'
        done
        echo
        for name in $servers; do
            [ "$name" = nginx ] && continue
            echo "- $name/nginx bytes per connection, per round: $(paired "$tmp/raw/idle.nginx" "$tmp/raw/idle.$name" 6 7)"
        done
        return
    fi
    echo "| server | req/s | MiB/s | bytes/resp | CPU-s | CPU % | req per CPU-s | p50 | p99 | errors | other % | CPU speed % |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for name in $servers; do
        f=$tmp/raw/$id.$name
        awk -v n="$name" -v rps="$(median "$f" 2)" -v cpu="$(median "$f" 4)" -v rpc="$(median "$f" 5)" \
            -v util="$(median "$f" 6)" -v p50="$(median "$f" 7)" -v p99="$(median "$f" 8)" -v bpr="$(median "$f" 12)" \
            -v mib="$(median "$f" 9)" -v o="$(median "$f" 11)" -v e="$(awk '{ s += $10 } END { print s + 0 }' "$f")" \
            -v sp="$(median "$f" 13)" -v best="$SPIN_REF" '
            function ms(v) { return (v == "nan") ? "–" : sprintf("%.3f ms", v / 1000) }
            BEGIN {
            printf "| %s | %.0f | %.1f | %.0f | %.2f | %.0f | %.0f | %s | %s | %d | %.0f | %.0f |\n",
                n, rps, mib, bpr, cpu, util, rpc, ms(p50), ms(p99), e, o, (sp > 0 ? 100 * best / sp : 0) }'
    done
    echo
    for name in $servers; do
        [ -f "$tmp/raw/$id.$name.hs" ] || continue
        awk -v n="$name" '{ f += $2; r += $3 } END {
            printf "- %s: wrk completed %d handshakes, %d full and %d resumed (%.0f %% resumed)\n",
                n, f + r, f, r, (f + r > 0 ? 100 * r / (f + r) : 0) }' "$tmp/raw/$id.$name.hs"
    done
    n=$tmp/raw/$id.nginx
    for name in $servers; do
        [ "$name" = nginx ] && continue
        f=$tmp/raw/$id.$name
        case "$headline" in
        mibs)
            echo "- $name/nginx: MiB/s **$(ratio "$(median "$f" 9)" "$(median "$n" 9)")**," \
                "req per CPU-s **$(ratio "$(median "$f" 5)" "$(median "$n" 5)")**" \
                "(per round: MiB/s $(paired "$n" "$f" 9); req per CPU-s $(paired "$n" "$f" 5))" ;;
        lat)
            echo "- $name/nginx: p50 **$(ratio "$(median "$f" 7)" "$(median "$n" 7)")**," \
                "p99 **$(ratio "$(median "$f" 8)" "$(median "$n" 8)")**," \
                "req per CPU-s **$(ratio "$(median "$f" 5)" "$(median "$n" 5)")**" \
                "(per round: p99 $(paired "$n" "$f" 8); req per CPU-s $(paired "$n" "$f" 5))" ;;
        *)
            echo "- $name/nginx: req/s **$(ratio "$(median "$f" 2)" "$(median "$n" 2)")**," \
                "req per CPU-s **$(ratio "$(median "$f" 5)" "$(median "$n" 5)")**" \
                "(per round: req/s $(paired "$n" "$f" 2); req per CPU-s $(paired "$n" "$f" 5))" ;;
        esac
    done
    case "$id" in
    gz) echo "- gzip body of /100k.js (102400 bytes): nginx ${GZ_BYTES[nginx]} bytes (gzip_comp_level 1, its" \
        "default; compressed for every response), mica ${GZ_BYTES[mica]} (level 6, kept in its cache)," \
        "lighttpd ${GZ_BYTES[lighttpd]} (zlib's default level; kept in deflate.cache-dir and sent from there)." ;;
    pipe) echo "- wrk parses every response of a batch and counts each as a request (bytes/resp above is one" \
        "response), so req/s is the real request rate. No latency: with pipelining wrk's latency distribution" \
        "is wrong (it shows 0 from the 75th percentile up)." ;;
    1kmc) echo "- wrk ($MC_WORKERS threads) runs on the same 2 CPUs as the server's $MC_WORKERS workers and competes" \
        "with them: req/s is bounded by wrk as much as by the server; req per CPU-s still compares the servers." \
        "CPU % is of one CPU (200 % = both)." ;;
    lat) echo "- The offered load is the same for every server (about $RATE_CONNS / ($RATE_DELAY_MS ms + response time);" \
        "req/s shows what each got); it is far below saturation, so this row compares latency, and CPU per request" \
        "at a moderate load." ;;
    close) echo "- Each request opens a new TCP connection (wrk reconnects when the server closes it)." ;;
    esac
}

method_text() {
    cat <<EOF
- **Servers**, started by bench/run.sh on loopback, all serving one temporary docroot (random \`1k.bin\` and
  \`1m.bin\`, a 100 KiB \`100k.js\` of JavaScript-like text), access logs off, keep-alive timeout 65 s, at least
  $WORKER_CONNS connections per worker:
  - **nginx** ($nginx_v): generated config, \`worker_processes 1\` (2 in the all-CPUs row), \`master_process on\`
    (the master's CPU time and memory count), \`sendfile on\`, \`tcp_nopush on\`, \`keepalive_requests 1000000\`,
    \`gzip on\` for text/javascript at its default level 1, no \`open_file_cache\` (its default).
  - **lighttpd** ($lighttpd_v): generated config, \`server.max-worker = 0\` (one process; 2 workers in the
    all-CPUs row), default network backend, \`server.max-keep-alive-requests = 65535\` (its maximum),
    mod_deflate for text/javascript with \`deflate.cache-dir\` (as Debian's packaged config: compressed once,
    then sent from the cache), stat cache at its default. It caps connections at half its open-file limit
    ($NOFILE here).
  - **mica** ($mica_v, commit $commit): \`--threads 1\` (2), \`--access-log off\`, max_connections $WORKER_CONNS.
  - **fixed** (bench/fixed.c): a minimal epoll loop that answers every request head with one fixed 1 KiB response
    from memory (pipelining-aware, honours \`Connection: close\`): the machine's limit, not a real server. It
    answers any path, so it takes part in the 1 KiB rows only.
- **Pinning**: each 1-worker server on CPU $SERVER_CPU (\`taskset\`), wrk (\`-t1\`, $wrk_v) on CPU $WRK_CPU. In the
  all-CPUs row nothing is pinned: $MC_WORKERS workers per server and wrk \`-t$MC_WORKERS\` share both CPUs.
- **Rounds**: $ROUNDS, interleaved: each round runs every scenario on every server, the servers' order rotating
  from round to round. Each wrk run: ${WARMUP} s warm-up, then ${SECS} s measured. Figures are **medians over the
  rounds**; ratios are ratios of the medians (per-round ratios are in the detail tables).
- **CPU-s**: the server's own CPU time over the measured run (utime+stime from \`/proc/PID/stat\`, all its
  processes); **req per CPU-s** = requests / CPU-s. It leaves out softirq work the kernel does for the server
  outside its process context. **other %**: CPU time every other program on the machine (the idle servers
  included) used during the run, in % of one CPU (should be ~0; above a few % the row is unreliable). **CPU speed
  %**: a fixed busy loop run on both CPUs just before and just after each measured run, its typical time at
  the start of the run / this time: it catches CPU taken away where no process shows it (a VM's host). It
  moves between about 60 and 110 % when all is well (the VM's CPUs vary by themselves); well below that the
  row ran on a slowed-down machine: its req/s is low, while req per CPU-s mostly holds.
- **Pipelined**: bench/pipeline.lua puts $PIPELINE requests in each write; wrk counts every response.
- **Idle connections**: for each server a fresh instance (1 worker, pinned) answers one request, then
  bench/idle.py opens $IDLE_CONNS connections that each make one request and stay open; bytes per connection =
  (VmRSS of all the server's processes after − before) / connections.
- **Fixed rate**: bench/rate.lua makes each of $RATE_CONNS connections wait $RATE_DELAY_MS ms after every response,
  so every server gets the same moderate load; latency is wrk's (from the request's write to its response).
- **HTTPS**: one self-signed ECDSA P-256 certificate for all (\`mica --make-cert\`); all negotiate $TLS_PARAMS
  (checked with \`openssl s_client\`). bench/tlsshim.c (LD_PRELOAD into wrk) drops the session before each
  handshake in the full-handshake row and counts full and resumed handshakes. $KTLS_NOTE${LT_TLS_NOTE:+ $LT_TLS_NOTE}
EOF
}

header_lines() {
    echo "- date: $run_date; machine: $machine"
    echo "- mica: $mica_v, commit $commit; nginx: $nginx_v; lighttpd: $lighttpd_v; wrk: $wrk_v"
    echo "- $ROUNDS rounds, ${SECS} s per run after ${WARMUP} s warm-up; the whole run took about $bench_minutes min;" \
        "other programs' load before it: ${idle_load} % of one CPU"
}

# The summary, the method and every scenario's table: the body of both reports.
report_body() {
    echo "## Summary (medians; ratios to nginx)"
    echo
    summary_table
    echo
    echo "## Method"
    echo
    method_text
    echo
    echo "## Scenarios"
    for s in "${SCENARIOS[@]}"; do scenario_detail "$s"; done
}

md=$tmp/latest.md
{
    echo "# mica benchmark — $run_date"
    echo
    header_lines
    echo
    report_body
} >"$md"

cp "$md" "$here/results/latest.md"
echo
cat "$md"
echo
echo "bench: written to bench/results/latest.md"

# ---- docs/benchmarks.md and docs/benchmarks.svg ----------------------------------------------
if [ "$DOCS" = auto ]; then
    DOCS=0
    [ -z "${BENCH_SCENARIOS:-}" ] && DOCS=1
fi
[ "$DOCS" = 1 ] || exit 0

# The chart: requests per server CPU-second relative to nginx, every scenario but the idle one.
: >"$tmp/chart.tsv"
for s in "${SCENARIOS[@]}"; do
    IFS=';' read -r id label _ _ _ servers _ _ scheme _ _ <<<"$s"
    [ "$id" = idle ] && continue
    for name in mica lighttpd fixed; do
        [[ " $(servers_for "$servers" "$scheme") " == *" $name "* ]] || continue
        printf '%s\t%s\t%s\n' "$label" "$name" "$(ratio "$(median "$tmp/raw/$id.$name" 5)" "$(median "$tmp/raw/$id.nginx" 5)")" >>"$tmp/chart.tsv"
    done
done
python3 "$here/chart.py" "$tmp/chart.tsv" "$repo/docs/benchmarks.svg" \
    "make bench, $run_date: $cpu_model, $(nproc) CPUs, Linux $(uname -r); mica $commit, $nginx_v, $lighttpd_v" ||
    die "could not write docs/benchmarks.svg"

# docs/benchmarks.md: the part between the markers is this run's; text outside them (notes,
# profiles) is kept.
doc=$repo/docs/benchmarks.md
begin='<!-- bench/run.sh: begin (generated; replaced by the next full run of make bench) -->'
end='<!-- bench/run.sh: end -->'
{
    echo "$begin"
    echo
    echo "![Requests per server CPU-second relative to nginx](benchmarks.svg)"
    echo
    header_lines
    echo
    echo "## How to read it"
    echo
    echo "Each figure is a median over $ROUNDS interleaved rounds of one run on the machine above; only the ratios between"
    echo "servers measured in the same run mean anything, not the absolute numbers, which depend on the machine."
    echo "With 2 CPUs one wrk thread saturates near what the fastest servers do, so **req per CPU-s** (requests per"
    echo "second of the server's own CPU time) is the figure that separates them; req/s shows where wrk or the core"
    echo "was the limit (CPU % below 100 means the server was waiting for wrk). \`fixed\` is not a server but the"
    echo "limit of this machine: a fixed 1 KiB answer from memory. In the latency and idle-memory rows lower is"
    echo "better; in all others higher is better. A row whose other % is above a few % was disturbed by other"
    echo "programs; one whose CPU speed % is well below 60 ran while the machine (a VM) was slowed down from"
    echo "outside: its req/s is low for every server alike, its req per CPU-s mostly holds."
    echo
    report_body
    echo
    echo "$end"
} >"$tmp/doc-block.md"
if [ -f "$doc" ] && grep -qF "$begin" "$doc" && grep -qF "$end" "$doc"; then
    awk -v b="$begin" -v e="$end" -v blk="$tmp/doc-block.md" '
        $0 == b { while ((getline l < blk) > 0) print l; skip = 1; next }
        $0 == e { skip = 0; next }
        !skip { print }' "$doc" >"$tmp/doc.new"
else
    {
        echo "# Benchmarks"
        echo
        echo "Written by \`make bench\` (bench/run.sh; see bench/README.md). Everything between the two markers below is"
        echo "replaced by the next full run; notes outside them are kept."
        echo
        cat "$tmp/doc-block.md"
    } >"$tmp/doc.new"
fi
cp "$tmp/doc.new" "$doc"
echo "bench: written to docs/benchmarks.md and docs/benchmarks.svg"
