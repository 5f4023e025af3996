#!/bin/sh
# System test with systemd as PID 1: the .deb installed into a Debian 12 root,
# booted with systemd-nspawn, checked through the real systemd.
#
#   sudo device/system-test.sh [PACKAGE.deb]      # PASS/FAIL per check; exit 1 on failure
#
# Without an argument the package is built first (device/debian/build-deb.sh).
# The root is made once with debootstrap and cached as a tarball in
# $ET_SYSTEMTEST_CACHE (default /var/cache/embedtornado-systemtest): about a
# minute the first time, a few seconds afterwards. The container shares the
# host's network, so the socket unit (moved to 127.0.0.1:$PORT by a drop-in)
# is reached from here.
#
# Checks: dpkg -i (postinst enables the socket), socket activation of the
# hardened service, Type=notify STATUS, DynamicUser, `systemctl reload` and a
# reload refused for a bad config, `systemctl stop` draining an in-flight
# request, a watchdog restart of a blocked event loop, and the online
# `systemd-analyze security` exposure (target <= 1.5).
# Needs: root, debootstrap, systemd-container (systemd-nspawn), curl.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${ET_SYSTEMTEST_CACHE:-/var/cache/embedtornado-systemtest}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PORT=${PORT:-18090}
for tool in debootstrap systemd-nspawn curl; do
    command -v $tool >/dev/null || { echo "needs $tool (apt-get install debootstrap systemd-container curl)"; exit 2; }
done
fail=0
pass() { echo "PASS $*"; }
bad() { echo "FAIL $*"; fail=1; }
WORK=$(mktemp -d /var/tmp/et-systemtest.XXXXXX)
NSPAWN=
cleanup() {
    if [ -n "$NSPAWN" ] && kill -0 "$NSPAWN" 2>/dev/null; then
        kill -TERM "$NSPAWN" 2>/dev/null || true
        sleep 2
        kill -KILL "$NSPAWN" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

DEB=${1:-}
if [ -z "$DEB" ]; then
    DEB=$("$ROOT/device/debian/build-deb.sh" "$WORK/deb" | cut -d' ' -f1)
fi

# --- the root ------------------------------------------------------------------------
mkdir -p "$CACHE"
TARBALL=$CACHE/bookworm-$(dpkg --print-architecture).tar
if [ ! -f "$TARBALL" ]; then
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,python3,procps,curl \
        bookworm "$WORK/build" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
        || { tail "$WORK/debootstrap.log"; exit 1; }
    tar -C "$WORK/build" -cf "$TARBALL.part" . && mv "$TARBALL.part" "$TARBALL"
    rm -rf "$WORK/build"
fi
R=$WORK/root
mkdir "$R"
tar -C "$R" -xf "$TARBALL"
cp /etc/hosts "$R/etc/hosts"

# --- install the package, plus the test's drop-ins and a check plugin -------------------
cp "$DEB" "$R/tmp/embedtornado.deb"
if chroot "$R" dpkg -i /tmp/embedtornado.deb >"$WORK/dpkg.log" 2>&1; then
    pass "dpkg -i $(basename "$DEB")"
else bad "dpkg -i"; cat "$WORK/dpkg.log"; exit 1; fi
[ -L "$R/etc/systemd/system/sockets.target.wants/embedtornado.socket" ] \
    && pass "postinst enabled embedtornado.socket" || bad "socket not enabled"
mkdir -p "$R/etc/systemd/system/embedtornado.socket.d" "$R/etc/systemd/system/embedtornado.service.d"
cat > "$R/etc/systemd/system/embedtornado.socket.d/test.conf" <<EOF
[Socket]
ListenStream=
ListenStream=127.0.0.1:$PORT
EOF
cat > "$R/etc/systemd/system/embedtornado.service.d/test.conf" <<EOF
[Service]
WatchdogSec=3s
EOF
cat > "$R/etc/embedtornado/plugins.d/checks.py" <<'EOF'
import asyncio, os, time
from embedtornado.web import RequestHandler
class Slow(RequestHandler):
    async def get(self):
        await asyncio.sleep(float(self.get_argument("s", "2")))
        self.write("slow done")
class Block(RequestHandler):
    def get(self):
        time.sleep(float(self.get_argument("s", "8")))  # blocks the event loop
        self.write("unblocked")
class Who(RequestHandler):
    def get(self):
        self.write("%d %d" % (os.getpid(), os.getuid()))
routes = [("/check/slow", Slow), ("/check/block", Block), ("/check/who", Who)]
EOF
echo 'healthz = True' >> "$R/etc/embedtornado/embedtornado.conf"

# --- boot ------------------------------------------------------------------------------
t0=$(date +%s.%N)
systemd-nspawn --register=no --keep-unit -q -D "$R" -b >"$WORK/boot.log" 2>&1 </dev/null &
NSPAWN=$!
PID1=
i=0
while [ -z "$PID1" ] && [ $i -lt 100 ]; do
    PID1=$(ps -o pid= --ppid "$NSPAWN" | head -1 | tr -d ' '); i=$((i + 1)); sleep 0.1
done
[ -n "$PID1" ] || { echo "FAIL nspawn did not start"; cat "$WORK/boot.log"; exit 1; }
in_ct() { nsenter -t "$PID1" -a "$@"; }
i=0
until state=$(in_ct systemctl is-system-running 2>/dev/null) && [ "$state" != starting ] \
        && [ "$state" != initializing ]; do
    i=$((i + 1)); [ $i -lt 300 ] || break; sleep 0.1
done
echo "     booted in $(python3 -c "import time; print(round(time.time() - $t0, 1))") s: $state"
sc() { in_ct systemctl "$@"; }
prop() { sc show embedtornado.service -p "$1" --value; }
get() { curl -s -m 30 "http://127.0.0.1:$PORT$1"; }

[ "$(sc is-active embedtornado.socket)" = active ] && pass "socket listening after boot" \
    || bad "socket $(sc is-active embedtornado.socket)"
t1=$(date +%s.%N)
[ "$(get /check/slow?s=0)" = "slow done" ] && pass "socket activation: first request served" \
    || bad "socket activation"
echo "     first response: $(python3 -c "import time; print(round(time.time() - $t1, 2))") s"
case "$(prop StatusText)" in "serving on 127.0.0.1:$PORT"*) pass "STATUS: $(prop StatusText)";;
    *) bad "StatusText '$(prop StatusText)' state $(prop ActiveState)";; esac
who=$(get /check/who); uid=${who#* }
[ -n "$uid" ] && [ "$uid" != 0 ] && pass "DynamicUser uid $uid" || bad "uid '$uid'"
get / | grep -q '<h2>Plugins</h2>' && pass "packaged demo plugins serve /" || bad "status page"

main1=$(prop MainPID)
if sc reload embedtornado.service && [ "$(prop MainPID)" = "$main1" ] \
        && get /healthz | grep -q '"ok": 1'; then pass "systemctl reload"
else bad "systemctl reload"; fi
cp "$R/etc/embedtornado/embedtornado.conf" "$WORK/good.conf"
echo 'max_body_size = "lots"' >> "$R/etc/embedtornado/embedtornado.conf"
if sc reload embedtornado.service 2>/dev/null; then bad "a bad config was reloaded"
elif [ "$(prop ActiveState)" = active ] && [ "$(get /check/slow?s=0)" = "slow done" ]; then
    pass "bad config: reload refused, still serving"
else bad "bad config broke the service"; fi
cp "$WORK/good.conf" "$R/etc/embedtornado/embedtornado.conf"

get /check/slow?s=2 > "$WORK/slow.out" &
CURL=$!
sleep 0.5
sc stop embedtornado.service 2>/dev/null
wait $CURL || true
[ "$(cat "$WORK/slow.out")" = "slow done" ] && pass "systemctl stop drained the in-flight request" \
    || bad "in-flight request lost: '$(cat "$WORK/slow.out")'"
[ "$(prop Result)" = success ] && pass "clean stop" || bad "Result $(prop Result)"

get /check/slow?s=0 >/dev/null
main1=$(prop MainPID)
get /check/block?s=8 >/dev/null 2>&1 || true
i=0
while [ "$(prop NRestarts)" = 0 ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
[ "$(prop NRestarts)" -ge 1 ] && [ "$(get /check/slow?s=0)" = "slow done" ] \
    && [ "$(prop MainPID)" != "$main1" ] \
    && pass "watchdog: blocked loop killed, restarted, serving (NRestarts=$(prop NRestarts))" \
    || bad "watchdog restart"

score=$(in_ct systemd-analyze security embedtornado.service --no-pager 2>/dev/null \
        | sed -n 's/.*Overall exposure level for embedtornado.service: \([0-9.]*\).*/\1/p')
if [ -n "$score" ] && python3 -c "import sys; sys.exit(0 if float('$score') <= 1.5 else 1)"; then
    pass "online systemd-analyze security: $score"
else bad "exposure '$score'"; fi

sc poweroff >/dev/null 2>&1 || true
i=0
while kill -0 "$NSPAWN" 2>/dev/null && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
kill -0 "$NSPAWN" 2>/dev/null && bad "container did not power off" || pass "poweroff"
NSPAWN=
exit $fail
