#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make bench`: wrk against mica, nginx and bench/fixed.c on the same docroot, in one run,
# interleaved over several rounds; medians and ratios to nginx. See bench/README.md.
#
#   BENCH_SECONDS=10   length of each measured wrk run
#   BENCH_ROUNDS=3     rounds; each round runs every scenario on every server
#   BENCH_WARMUP=1     seconds of unmeasured wrk before each measured run (0 = none)
#   BENCH_SCENARIOS=   space-separated scenario ids to run (default: all of 1k 1m gz tls1k tlshs tlsres)
#   MICA_BIN=...       the mica binary (default build/release/mica)
#
# Writes the table to stdout and to bench/results/latest.md (git-ignored).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
MICA_BIN=${MICA_BIN:-$repo/build/release/mica}
SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-1}
SERVER_CPU=0
WRK_CPU=1
START_TIMEOUT=5

die() { echo "bench: $*" >&2; exit 1; }

for tool in wrk nginx taskset cc curl python3 getconf openssl; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (make bench installs it via scripts/install-deps.sh bench)"
done
[ -x "$MICA_BIN" ] || die "$MICA_BIN not found: run make first"
[ "$(nproc)" -ge 2 ] || die "needs at least 2 CPUs (server on CPU $SERVER_CPU, wrk on CPU $WRK_CPU)"
case "$SECS$ROUNDS$WARMUP" in *[!0-9]*) die "BENCH_SECONDS, BENCH_ROUNDS and BENCH_WARMUP must be whole numbers" ;; esac
[ "$ROUNDS" -ge 1 ] && [ "$SECS" -ge 1 ] || die "BENCH_SECONDS and BENCH_ROUNDS must be at least 1"
TCK=$(getconf CLK_TCK)

# ---- temporary workspace and cleanup --------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mica-bench.XXXXXX")
started=()   # pids of the processes this script started (servers run in the foreground)

cleanup() {
    local pid kids=() _i
    for pid in "${started[@]}"; do
        # nginx workers are children of the master we started: note them before it goes.
        if [ -r "/proc/$pid/task/$pid/children" ]; then
            # shellcheck disable=SC2207
            kids+=($(cat "/proc/$pid/task/$pid/children" 2>/dev/null || true))
        fi
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${started[@]}"; do
        for _i in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for pid in "${kids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$tmp/www" "$tmp/nginx" "$tmp/raw" "$repo/build/bench" "$here/results"
head -c 1024 /dev/urandom >"$tmp/www/1k.bin"
head -c 1048576 /dev/urandom >"$tmp/www/1m.bin"
# 100 KiB of JavaScript-like text: compressible, as real scripts are (about 4:1 with gzip).
awk 'BEGIN { srand(7); while (n < 102400) { l = sprintf("function f%d(a, b) { return a * %d + b - %d; } // %x\n", i, int(rand() * 1000), i++, int(rand() * 2^31)); printf "%s", l; n += length(l) } }' |
    head -c 102400 >"$tmp/www/100k.js"

# ---- build the fixed-answer reference ---------------------------------------------------------
FIXED_BIN=$repo/build/bench/fixed
if [ ! -x "$FIXED_BIN" ] || [ "$here/fixed.c" -nt "$FIXED_BIN" ]; then
    cc -O2 -std=c11 -Wall -Wextra -o "$FIXED_BIN" "$here/fixed.c" || die "could not compile bench/fixed.c"
fi

# wrk's handshake counter, and the switch that makes every handshake a full one (see tlsshim.c).
SHIM=$repo/build/bench/tlsshim.so
if [ ! -f "$SHIM" ] || [ "$here/tlsshim.c" -nt "$SHIM" ]; then
    cc -O2 -std=c11 -Wall -Wextra -shared -fPIC -o "$SHIM" "$here/tlsshim.c" -lssl -ldl ||
        die "could not compile bench/tlsshim.c (needs the OpenSSL headers, as mica does)"
fi

# ---- one certificate for both servers' HTTPS ------------------------------------------------
# A self-signed ECDSA P-256 certificate (what --self-signed would make), written once, used by
# nginx and mica alike so that the handshakes cost the same on both sides.
"$MICA_BIN" --make-cert "$tmp/tls" >"$tmp/make-cert.out" 2>&1 ||
    die "mica --make-cert failed: $(cat "$tmp/make-cert.out")"
TLS_CERT=$tmp/tls/cert.pem TLS_KEY=$tmp/tls/key.pem
if [ -e /proc/net/tls_stat ]; then
    KTLS_NOTE="The kernel offers kTLS: mica may send files with SSL_sendfile; nginx is not configured for it."
else
    KTLS_NOTE="No kTLS in this kernel: both encrypt in user space."
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
    return 1
}

# pids_of NAME: the server's processes whose CPU time counts (nginx: master + workers).
pids_of() {
    local pid=${PID[$1]}
    echo "$pid"
    [ "$1" = nginx ] && cat "/proc/$pid/task/$pid/children" 2>/dev/null
    return 0
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
# script, its children (wrk, curl, awk …) and the given pids. other_pct BEFORE AFTER SECONDS: the
# CPU time those processes used between two snapshots, in % of one CPU (a process that started in
# between counts in full, one that exited is lost). That is load other programs put on the two
# CPUs that the server and wrk should have. (/proc/stat's per-CPU ticks are sampled, and disagree
# with the per-process times on this VM, so they are not used.)
others_snapshot() {
    local f pid stat rest skip=" $$ $BASHPID $* "
    for f in /proc/[0-9]*/stat; do
        pid=${f#/proc/}; pid=${pid%/stat}
        case "$skip" in *" $pid "*) continue ;; esac
        { read -r stat <"$f"; } 2>/dev/null || continue
        rest=${stat##*) }
        # shellcheck disable=SC2086
        set -- $rest
        [ "$2" = "$$" ] && continue   # field 4, the parent
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
        if (f < 0) print "nan"; else printf "%.1f\n", n * f }'
}

# The figures assume an otherwise idle machine: note how busy it is before we start.
idle_load=$(other_load)
if [ "$idle_load" -gt 10 ]; then
    echo "bench: WARNING: before the run other programs already used ${idle_load} % of a CPU;" \
        "the figures will be noisy (see the 'other' column)" >&2
fi

# ---- start the servers (each once, pinned to CPU 0, for the whole run) -----------------------
declare -A PID PORT TLS_PORT
LOG_nginx=$tmp/nginx.out LOG_mica=$tmp/mica.out LOG_fixed=$tmp/fixed.out

start_nginx() {
    local port tls_port user_line=""
    port=$(free_port)
    tls_port=$(free_port)
    # As root, nginx's workers would switch to "nobody", who cannot read the 0700 temp dir.
    [ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);"
    cat >"$tmp/nginx/nginx.conf" <<EOF
# generated by bench/run.sh
$user_line
worker_processes 1;
master_process on;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events {
    worker_connections 4096;
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
    client_body_temp_path $tmp/nginx/client_body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    server {
        listen 127.0.0.1:$port;
        listen 127.0.0.1:$tls_port ssl;
        ssl_certificate $TLS_CERT;
        ssl_certificate_key $TLS_KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_tickets on;
        root $tmp/www;
        location / { }
    }
}
EOF
    taskset -c "$SERVER_CPU" nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e stderr \
        >"$LOG_nginx" 2>&1 </dev/null &
    PID[nginx]=$!
    started+=("$!")
    PORT[nginx]=$port
    TLS_PORT[nginx]=$tls_port
}

start_mica() {
    local tls_port
    tls_port=$(free_port)
    (cd "$repo" && exec taskset -c "$SERVER_CPU" "$MICA_BIN" --threads 1 --bind 127.0.0.1 --port 0 \
        --tls-port "$tls_port" --cert "$TLS_CERT" --key "$TLS_KEY" \
        --access-log off --error-log "$tmp/mica-error.log" --root "$tmp/www" \
        --templates "$repo/templates") >"$LOG_mica" 2>&1 </dev/null &
    PID[mica]=$!
    started+=("$!")
    PORT[mica]=$(wait_port_in_log mica "$LOG_mica" "${PID[mica]}") || exit 1
    TLS_PORT[mica]=$(wait_port_in_log mica "$LOG_mica" "${PID[mica]}" https) || exit 1
    [ "${TLS_PORT[mica]}" = "$tls_port" ] || die "mica serves HTTPS on ${TLS_PORT[mica]}, not $tls_port"
}

start_fixed() {
    taskset -c "$SERVER_CPU" "$FIXED_BIN" 0 >"$LOG_fixed" 2>&1 </dev/null &
    PID[fixed]=$!
    started+=("$!")
    PORT[fixed]=$(wait_port_in_log fixed "$LOG_fixed" "${PID[fixed]}") || exit 1
}

start_nginx
start_mica
start_fixed
wait_http nginx "${PORT[nginx]}" /1k.bin 1024 "$LOG_nginx" || exit 1
wait_http mica "${PORT[mica]}" /1k.bin 1024 "$LOG_mica" || exit 1
wait_http fixed "${PORT[fixed]}" /1k.bin 1024 "$LOG_fixed" || exit 1
wait_http nginx "${PORT[nginx]}" /1m.bin 1048576 "$LOG_nginx" || exit 1
wait_http mica "${PORT[mica]}" /1m.bin 1048576 "$LOG_mica" || exit 1
wait_http nginx "${TLS_PORT[nginx]}" /1k.bin 1024 "$LOG_nginx" https || exit 1
wait_http mica "${TLS_PORT[mica]}" /1k.bin 1024 "$LOG_mica" https || exit 1
for name in nginx mica; do
    enc=$(curl -s -o /dev/null -D - -H 'Accept-Encoding: gzip' "http://127.0.0.1:${PORT[$name]}/100k.js" |
        tr -d '\r' | awk -F': ' 'tolower($1) == "content-encoding" { print $2 }')
    [ "$enc" = gzip ] || die "$name does not gzip /100k.js (Content-Encoding: '$enc')"
done

# What each server negotiates with a default OpenSSL client (wrk uses the same library and
# defaults): "TLSv1.3 TLS_AES_256_GCM_SHA384 X25519". The TLS rows compare like with like only
# if both servers pick the same protocol, cipher and key exchange.
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

# ---- scenarios --------------------------------------------------------------------------------
# id | title | connections | path | servers | headline (rps: requests/s, mibs: MiB/s) | header | scheme
ALL_SCENARIOS=(
    "1k|1 KiB file, keep-alive, 64 connections|64|/1k.bin|nginx mica fixed|rps"
    "1m|1 MiB file, keep-alive, 8 connections|8|/1m.bin|nginx mica|mibs"
    "gz|100 KiB JavaScript, Accept-Encoding: gzip, keep-alive, 64 connections|64|/100k.js|nginx mica|rps|Accept-Encoding: gzip"
    "tls1k|HTTPS: 1 KiB file, keep-alive, 64 connections|64|/1k.bin|nginx mica|rps||https"
    "tlshs|HTTPS: a new connection and a full TLS handshake per request (Connection: close, no resumption), 32 connections|32|/1k.bin|nginx mica|rps|Connection: close|https-full"
    "tlsres|HTTPS: a new connection per request, session resumed from a ticket (Connection: close), 32 connections|32|/1k.bin|nginx mica|rps|Connection: close|https"
)
SCENARIOS=()
for s in "${ALL_SCENARIOS[@]}"; do
    if [ -z "${BENCH_SCENARIOS:-}" ] || [[ " $BENCH_SCENARIOS " == *" ${s%%|*} "* ]]; then
        SCENARIOS+=("$s")
    fi
done
[ "${#SCENARIOS[@]}" -gt 0 ] || die "BENCH_SCENARIOS='${BENCH_SCENARIOS:-}' names none of: 1k 1m gz tls1k tlshs tlsres"

runs=0
for s in "${SCENARIOS[@]}"; do IFS='|' read -r _ _ _ _ srv _ <<<"$s"; set -- $srv; runs=$((runs + $#)); done
echo "bench: mica pid ${PID[mica]} port ${PORT[mica]} (https ${TLS_PORT[mica]}), nginx pid ${PID[nginx]}" \
    "port ${PORT[nginx]} (https ${TLS_PORT[nginx]}), fixed pid ${PID[fixed]} port ${PORT[fixed]};" \
    "servers on CPU $SERVER_CPU, wrk on CPU $WRK_CPU"
echo "bench: HTTPS on both negotiates $TLS_PARAMS"
echo "bench: $ROUNDS rounds x $runs runs x (${WARMUP} s warm-up + $SECS s) ≈ $((ROUNDS * runs * (SECS + WARMUP))) s"

# measure SCENARIO_ID SERVER CONNS PATH ROUND [HEADER] [SCHEME]: one wrk run; appends a line to
# $tmp/raw/ID.SERVER:
#   round rps requests cpu_s req_per_cpu_s cpu_util p50_us p99_us mib_s errors
measure() {
    local id=$1 name=$2 conns=$3 path=$4 round=$5 header=${6:-} scheme=${7:-http} url out t0 t1 pids other
    local -a hdr=() wrk_env=()
    [ -n "$header" ] && hdr=(-H "$header")
    case "$scheme" in
    https*)
        url="https://127.0.0.1:${TLS_PORT[$name]}$path"
        # https-full: every handshake a full one; https: as wrk does (resumes). Counted either way.
        wrk_env=(LD_PRELOAD="$SHIM" TLS_SHIM_FRESH="$([ "$scheme" = https-full ] && echo 1 || echo 0)")
        ;;
    *) url="http://127.0.0.1:${PORT[$name]}$path" ;;
    esac
    if [ "$WARMUP" -gt 0 ]; then
        env "${wrk_env[@]}" taskset -c "$WRK_CPU" wrk -t1 -c"$conns" -d"${WARMUP}s" "${hdr[@]}" "$url" >/dev/null 2>&1 || true
    fi
    out=$tmp/raw/$id.$name.$round.wrk
    # shellcheck disable=SC2046
    pids=$(pids_of "$name")
    # shellcheck disable=SC2086
    t0=$(cpu_ticks $pids)
    # shellcheck disable=SC2086
    others_snapshot $pids >"$tmp/others.0"
    rm -f "$out.hs"
    [ "${#wrk_env[@]}" -gt 0 ] && wrk_env+=(TLS_SHIM_STATS="$out.hs")
    env "${wrk_env[@]}" taskset -c "$WRK_CPU" wrk -t1 -c"$conns" -d"${SECS}s" --latency "${hdr[@]}" "$url" >"$out" 2>&1 ||
        die "wrk failed against $name: $(cat "$out")"
    if [ "${#wrk_env[@]}" -gt 0 ]; then
        # "full N resumed M": the handshakes wrk completed during the measured run.
        [ -s "$out.hs" ] || die "no handshake counts from wrk (LD_PRELOAD of $SHIM did not take)"
        read -r _ hs_full _ hs_resumed <"$out.hs"
        echo "$round $hs_full $hs_resumed" >>"$tmp/raw/$id.$name.hs"
        if [ "$scheme" = https-full ] && [ "$hs_resumed" -gt 0 ]; then
            echo "bench: WARNING: $name, $id, round $round: $hs_resumed handshakes were resumed" >&2
        fi
    fi
    # shellcheck disable=SC2086
    t1=$(cpu_ticks $pids)
    # shellcheck disable=SC2086
    others_snapshot $pids >"$tmp/others.1"
    kill -0 "${PID[$name]}" 2>/dev/null || die "$name died during the run; its output: $(cat "${tmp}/$name.out")"

    local rps reqs dur p50 p99 xfer errs non2xx
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    reqs=$(awk '/ requests in / { print $1 }' "$out")
    dur=$(awk '/ requests in / { s = $4; sub(/,$/, "", s); print s }' "$out")
    p50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$out")")
    p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$out")")
    xfer=$(to_mib "$(awk '/^Transfer\/sec:/ { print $2 }' "$out")")
    errs=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    errs=$(( ${errs:-0} + ${non2xx:-0} ))
    [ -n "$rps" ] && [ -n "$reqs" ] || die "could not read wrk's output for $name: $(cat "$out")"
    if [ "$errs" -gt 0 ]; then
        echo "bench: WARNING: $name, $id, round $round: wrk reported errors:" >&2
        grep -E 'Socket errors|Non-2xx' "$out" | sed 's/^/    /' >&2
    fi
    # CPU time of other programs during the run, in % of one CPU: above a few %, they took CPU
    # from the server or wrk and the figures are unreliable.
    other=$(other_pct "$tmp/others.0" "$tmp/others.1" "${dur%s}")
    if [ "$other" -gt 5 ]; then
        echo "bench: WARNING: other programs used ${other} % of a CPU during this run" >&2
    fi
    awk -v r="$round" -v o="$other" -v rps="$rps" -v n="$reqs" -v d="${dur%s}" -v t="$((t1 - t0))" -v tck="$TCK" \
        -v p50="$p50" -v p99="$p99" -v mib="$xfer" -v e="$errs" 'BEGIN {
            cpu = t / tck; d += 0;
            printf "%d %.1f %d %.2f %s %s %s %s %s %d %s\n", r, rps, n, cpu,
                (cpu > 0 ? sprintf("%.0f", n / cpu) : "inf"), (d > 0 ? sprintf("%.0f", 100 * cpu / d) : "nan"),
                p50, p99, mib, e, o }' >>"$tmp/raw/$id.$name"
    printf '  round %d  %-5s %-6s %10.0f req/s  %6.2f CPU-s  %10s req/CPU-s  p99 %8s us  other load %3s %%%s\n' \
        "$round" "$id" "$name" \
        "$rps" "$(awk -v t="$((t1 - t0))" -v k="$TCK" 'BEGIN { print t / k }')" \
        "$(tail -n1 "$tmp/raw/$id.$name" | cut -d' ' -f5)" "$p99" "$other" \
        "$([ "$errs" -gt 0 ] && echo "  ERRORS $errs" || true)"
}

for round in $(seq "$ROUNDS"); do
    echo "== round $round/$ROUNDS =="
    for s in "${SCENARIOS[@]}"; do
        IFS='|' read -r id _ conns path servers _ header scheme <<<"$s"
        for name in $servers; do
            measure "$id" "$name" "$conns" "$path" "$round" "$header" "$scheme"
        done
    done
done

# ---- report -----------------------------------------------------------------------------------
# median FILE COLUMN
median() {
    awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
              else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f\n", a / b; else print "n/a" }'; }
# per-round ratios of COLUMN between two servers, e.g. "1.02 0.98 1.01"
paired() {
    join <(sort -k1,1 "$1") <(sort -k1,1 "$2") |
        awk -v c="$3" '{ base = $(c); other = $(c + 10); printf "%s%.2f", (NR > 1 ? " " : ""), (base > 0 ? other / base : 0) }'
}

commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$repo" status --porcelain -- src Makefile 2>/dev/null)" ]; then
    commit="$commit (+ uncommitted changes in src/ or Makefile)"
fi
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
nginx_v=$(nginx -v 2>&1 | sed 's/^nginx version: //')
wrk_v=$({ wrk --version 2>&1 || true; } | awk 'NR == 1 { print $2 }')   # wrk --version exits 1
mica_v=$({ "$MICA_BIN" --version 2>&1 || true; } | head -n1)

md=$tmp/latest.md
{
    echo "# mica benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- mica: $mica_v, commit $commit"
    echo "- nginx: $nginx_v (1 worker, master_process on, access_log off, sendfile on, tcp_nopush on)"
    echo "- wrk: $wrk_v, 1 thread, on CPU $WRK_CPU; each server: 1 worker/thread on CPU $SERVER_CPU"
    echo "- machine: $cpu_model, $(nproc) CPUs, Linux $(uname -r)"
    echo "- $ROUNDS rounds, interleaved (nginx, mica, fixed in each), ${SECS} s per run after a ${WARMUP} s warm-up;"
    echo "  figures are medians over the rounds. CPU-s = utime+stime of the server's processes over the run;"
    echo "  CPU % = CPU-s / wall time (100 % = the server's core was saturated). Latency from wrk --latency."
    echo "  other % = CPU time other programs on the machine used during the run, in % of one CPU: anything"
    echo "  above a few % took CPU from the server or wrk, and makes the figures unreliable."
    echo "- other programs' load before the run: ${idle_load} % of one CPU"
    echo "  \`fixed\` = bench/fixed.c, a fixed 1 KiB answer from memory: the physical limit, not a real server."
    echo "- HTTPS rows: one self-signed ECDSA P-256 certificate (mica --make-cert) for both servers;"
    echo "  nginx \`listen … ssl\`, ssl_protocols TLSv1.2 TLSv1.3, ssl_session_tickets on; mica --tls-port"
    echo "  --cert --key. Both negotiate **$TLS_PARAMS** with wrk's (default OpenSSL) client, checked"
    echo "  with openssl s_client. wrk keeps a connection's session across reconnects, so with"
    echo "  Connection: close it resumes (row \"resumed\"); for the full-handshake row bench/tlsshim.c"
    echo "  (LD_PRELOAD into wrk) drops the session before each handshake. It also counts the handshakes"
    echo "  wrk completed, full and resumed (below each HTTPS table). $KTLS_NOTE"
    for s in "${SCENARIOS[@]}"; do
        IFS='|' read -r id title conns path servers headline _ <<<"$s"
        echo
        echo "## $title ($path)"
        echo
        echo "| server | req/s | MiB/s | CPU-s | CPU % | req per CPU-s | p50 | p99 | errors | other % |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        for name in $servers; do
            f=$tmp/raw/$id.$name
            awk -v n="$name" -v rps="$(median "$f" 2)" -v cpu="$(median "$f" 4)" -v rpc="$(median "$f" 5)" \
                -v util="$(median "$f" 6)" -v p50="$(median "$f" 7)" -v p99="$(median "$f" 8)" \
                -v mib="$(median "$f" 9)" -v o="$(median "$f" 11)" -v e="$(awk '{ s += $10 } END { print s + 0 }' "$f")" 'BEGIN {
                printf "| %s | %.0f | %.1f | %.2f | %.0f | %.0f | %.2f ms | %.2f ms | %d | %.0f |\n",
                    n, rps, mib, cpu, util, rpc, p50 / 1000, p99 / 1000, e, o }'
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
            if [ "$headline" = mibs ]; then
                echo "- $name/nginx: MiB/s **$(ratio "$(median "$f" 9)" "$(median "$n" 9)")**," \
                    "req per CPU-s **$(ratio "$(median "$f" 5)" "$(median "$n" 5)")**" \
                    "(per round: MiB/s $(paired "$n" "$f" 9); req per CPU-s $(paired "$n" "$f" 5))"
            else
                echo "- $name/nginx: req/s **$(ratio "$(median "$f" 2)" "$(median "$n" 2)")**," \
                    "req per CPU-s **$(ratio "$(median "$f" 5)" "$(median "$n" 5)")**" \
                    "(per round: req/s $(paired "$n" "$f" 2); req per CPU-s $(paired "$n" "$f" 5))"
            fi
        done
    done
} >"$md"

cp "$md" "$here/results/latest.md"
echo
cat "$md"
echo
echo "bench: written to bench/results/latest.md"
