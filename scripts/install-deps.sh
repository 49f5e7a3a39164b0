#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian packages mica needs that this machine lacks.
#   install-deps.sh build   what `make` needs (compiler, pkg-config, libraries)
#   install-deps.sh test    that, plus what `make test` needs (cmocka, pytest, curl, openssl …)
#   install-deps.sh bench   that, plus what `make bench` needs (wrk, nginx, lighttpd)
# Only missing packages are installed; apt-get runs through sudo when not root.
set -eu

build="gcc make pkg-config libssl-dev zlib1g-dev libbrotli-dev libcjson-dev libsqlite3-dev libcrypt-dev"
test="$build libcmocka-dev python3-pytest python3-requests curl chromium openssl haproxy logrotate groff-base man-db iproute2 brotli"
bench="$test wrk nginx-light lighttpd lighttpd-mod-deflate lighttpd-mod-openssl"

case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
bench) want=$bench ;;
fuzz) want="$build clang libclang-rt-14-dev" ;;
*) echo "usage: $0 build|test|bench|fuzz" >&2; exit 2 ;;
esac

missing=""
for pkg in $want; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $pkg" ;;
    esac
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "install-deps: need root or sudo to install:$missing" >&2
    exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is intended
$sudo apt-get install -y -qq --no-install-recommends $missing
