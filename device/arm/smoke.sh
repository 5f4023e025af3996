#!/bin/sh
# ARM smoke test under qemu-user: cross-build the arm64 package, install it into
# a debootstrapped arm64 Debian 12 root, import the compiled extensions there
# (not the twins), and serve requests, a WebSocket included.
#
#   sudo device/arm/smoke.sh            # ARCH=arm64 (default) or ARCH=armhf
#
# The root is made once (debootstrap through binfmt + qemu-user-static, about
# 4 minutes for arm64) and cached in $ET_SYSTEMTEST_CACHE
# (/var/cache/embedtornado-systemtest). Python runs emulated, 6-13x slower than
# native: timings here say nothing about real ARM hardware.
# Needs: root, debootstrap, qemu-user-static, binfmt-support,
# gcc-aarch64-linux-gnu (or gcc-arm-linux-gnueabihf), a host Python of the
# target's minor version with Cython and wheel (PYTHON=...), curl.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ARCH=${ARCH:-arm64}
CACHE=${ET_SYSTEMTEST_CACHE:-/var/cache/embedtornado-systemtest}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PORT=${PORT:-18091}
HOSTPY=${PYTHON:-python3}
fail=0
pass() { echo "PASS $*"; }
bad() { echo "FAIL $*"; fail=1; }
case $ARCH in arm64) QEMU=qemu-aarch64 ;; armhf) QEMU=qemu-arm ;; *) echo "ARCH?"; exit 2 ;; esac
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
update-binfmts --enable "$QEMU" >/dev/null 2>&1 || true
[ -e "/proc/sys/fs/binfmt_misc/$QEMU" ] || { echo "no binfmt handler for $QEMU"; exit 2; }

WORK=$(mktemp -d /var/tmp/et-armsmoke.XXXXXX)
DAEMON=
cleanup() {
    if [ -n "$DAEMON" ]; then kill -KILL "$DAEMON" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- the root (also the sysroot of the cross build) --------------------------------------
SYSROOT=$CACHE/root-$ARCH
if [ ! -x "$SYSROOT/usr/bin/python3" ]; then
    t0=$(date +%s)
    debootstrap --arch="$ARCH" --variant=minbase \
        --include=python3,libpython3.11-dev,libc6-dev,procps \
        bookworm "$SYSROOT.part" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
        || { tail "$WORK/debootstrap.log"; exit 1; }
    mv "$SYSROOT.part" "$SYSROOT"
    echo "     debootstrap $ARCH: $(( $(date +%s) - t0 )) s"
fi
if [ ! -x "$SYSROOT/bin/ps" ]; then  # a root cached by an older version of this script
    cp /etc/resolv.conf "$SYSROOT/etc/resolv.conf"
    chroot "$SYSROOT" apt-get install -y -q procps >"$WORK/apt.log" 2>&1 \
        || { tail "$WORK/apt.log"; exit 1; }
fi

# --- the package -----------------------------------------------------------------------
t0=$(date +%s)
DEB=$(ARCH=$ARCH SYSROOT=$SYSROOT PYTHON=$HOSTPY "$ROOT/device/debian/build-deb.sh" "$WORK/deb" \
      | cut -d' ' -f1)
[ -f "$DEB" ] && pass "cross-built $(basename "$DEB") in $(( $(date +%s) - t0 )) s" \
    || { bad "cross build"; exit 1; }

# --- install into a throw-away copy of the root, run emulated ----------------------------
R=$WORK/root
cp -a "$SYSROOT" "$R"
cp /etc/hosts "$R/etc/hosts"
cp "$DEB" "$R/tmp/embedtornado.deb"
chroot "$R" dpkg -i /tmp/embedtornado.deb >"$WORK/dpkg.log" 2>&1 \
    && pass "dpkg -i in the $ARCH root" || { bad "dpkg -i"; cat "$WORK/dpkg.log"; exit 1; }
machine=$(chroot "$R" uname -m)
speedups=$(chroot "$R" env EMBEDTORNADO_REQUIRE_EXTENSIONS=1 python3 -c \
    'import embedtornado; print(" ".join("%s=%s" % kv for kv in sorted(embedtornado.speedups().items())))' \
    2>&1) && case "$speedups" in *python*) bad "twins in use: $speedups" ;;
                                 *) pass "$machine: compiled extensions load: $speedups" ;; esac \
    || bad "import failed on $machine: $speedups"

t0=$(date +%s.%N)
chroot "$R" /usr/bin/embedtornado --port="$PORT" --address=127.0.0.1 >"$WORK/daemon.log" 2>&1 &
DAEMON=$!
i=0
until curl -s -m 5 -o /dev/null "http://127.0.0.1:$PORT/healthz"; do
    i=$((i + 1)); [ $i -lt 600 ] || { bad "daemon did not answer"; cat "$WORK/daemon.log"; exit 1; }
    kill -0 "$DAEMON" 2>/dev/null || { bad "daemon exited"; cat "$WORK/daemon.log"; exit 1; }
    sleep 0.1
done
echo "     start to first response (emulated): $("$HOSTPY" -c "import time; print(round(time.time() - $t0, 1))") s"
curl -s "http://127.0.0.1:$PORT/" | grep -q '<h2>Plugins</h2>' && pass "status page" || bad "status page"
curl -s "http://127.0.0.1:$PORT/api/v1/info" | grep -q '"speedups"' && pass "JSON API" || bad "JSON API"
"$HOSTPY" - "$PORT" <<'EOF' && pass "WebSocket live log" || bad "WebSocket"
import sys, urllib.request
from websockets.sync.client import connect
port = sys.argv[1]
urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/info?marker=arm-smoke").read()
with connect(f"ws://127.0.0.1:{port}/logs/ws", open_timeout=60) as ws:
    for _ in range(1000):
        if "arm-smoke" in ws.recv(timeout=60):
            break
    else:
        raise SystemExit(1)
EOF
kill -TERM "$DAEMON"
wait "$DAEMON" && pass "SIGTERM: clean exit" || bad "exit status $?"
DAEMON=
exit $fail
