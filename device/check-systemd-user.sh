#!/bin/sh
# The real units under a real systemd (252+) service manager, without booting:
# a `systemd --user` manager (running as root) inside a private mount namespace.
#
#   sudo device/check-systemd-user.sh            # prints PASS/FAIL per check; exit 1 on failure
#
# Checks, through systemctl: socket activation of the hardened service
# (DynamicUser, ProtectSystem=strict, SystemCallFilter, ...), Type=notify
# readiness and STATUS=, `systemctl reload` (and a rejected bad config),
# `systemctl stop` draining an in-flight request, and a watchdog restart of a
# deliberately blocked event loop. The host is not changed: /run is a tmpfs
# private to the namespace, which disappears with the manager.
# Needs: root, unshare (util-linux), systemd, curl, /usr/bin/python3 (the
# package is imported from this checkout's src/ through PYTHONPATH).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" != "--inside" ]; then
    exec unshare -m --propagation private "$0" --inside
fi

PORT=${PORT:-18089}
PY=${PYTHON:-/usr/bin/python3}
fail=0
pass() { echo "PASS $*"; }
bad() { echo "FAIL $*"; fail=1; }

# --- a manager without PID 1 (recipe: /work/shared/APPLIANCE-NOTES.md 1.5) ------------
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/systemd/system /run/systemd/inaccessible
( cd /run/systemd/inaccessible && touch reg && mkdir dir && mknod chr c 0 0 && mknod blk b 0 0 \
  && mkfifo fifo && "$PY" -c 'import socket; socket.socket(socket.AF_UNIX).bind("sock")' \
  && chmod 0000 reg dir chr blk fifo sock )
export XDG_RUNTIME_DIR=/run/etmgr XDG_CONFIG_HOME=/run/etcfg
mkdir -p -m 0755 "$XDG_RUNTIME_DIR"   # the dynamic user must reach systemd/notify
UNITS=$XDG_CONFIG_HOME/systemd/user
mkdir -p "$UNITS/embedtornado.socket.d" "$UNITS/embedtornado.service.d"
cp "$ROOT/systemd/embedtornado.service" "$ROOT/systemd/embedtornado.socket" "$UNITS/"
cat > "$UNITS/embedtornado.socket.d/check.conf" <<EOF
[Socket]
ListenStream=
ListenStream=127.0.0.1:$PORT
EOF
cat > "$UNITS/embedtornado.service.d/check.conf" <<EOF
[Service]
ExecStart=
ExecStart=$PY -m embedtornado
ExecReload=
ExecReload=$PY -m embedtornado --check-config
ExecReload=/bin/kill -HUP \$MAINPID
Environment=PYTHONPATH=$ROOT/src EMBEDTORNADO_CONFIG=/run/etcheck/embedtornado.conf
WatchdogSec=3s
TimeoutStartSec=15s
${EXTRA_SERVICE_LINES:-}
EOF
mkdir -p -m 0755 /run/etcheck/plugins
cat > /run/etcheck/plugins/checks.py <<'EOF'
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
class Env(RequestHandler):
    def get(self):
        env = dict(kv.split("=", 1) for kv in open("/proc/self/environ").read().split("\0") if "=" in kv)
        path = env.get("NOTIFY_SOCKET", "")
        import socket
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.sendto(b"STATUS=probe", path)
            result = "sent"
        except OSError as exc:
            result = repr(exc)
        self.write({"NOTIFY_SOCKET": path, "send": result})
class Who(RequestHandler):
    def get(self):
        self.write("%d %d" % (os.getpid(), os.getuid()))
routes = [("/check/slow", Slow), ("/check/block", Block), ("/check/who", Who), ("/check/env", Env)]
EOF
cat > /run/etcheck/embedtornado.conf <<EOF
plugins_dir = ["$ROOT/device/plugins", "/run/etcheck/plugins"]
healthz = True
drain_timeout = 5.0
EOF
chmod -R a+rX /run/etcheck

/lib/systemd/systemd --user --log-target=kmsg &
MGR=$!
cleanup() {
    systemctl --user stop embedtornado.socket embedtornado.service >/dev/null 2>&1 || true
    for child in $(ps -o pid= --ppid "$MGR"); do kill -KILL "$child" 2>/dev/null || true; done
    kill -KILL "$MGR" 2>/dev/null || true
    wait "$MGR" 2>/dev/null || true
}
trap cleanup EXIT
i=0
while [ ! -S "$XDG_RUNTIME_DIR/systemd/private" ] || [ ! -S "$XDG_RUNTIME_DIR/systemd/notify" ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "FAIL the user manager did not start"; exit 1; }
    sleep 0.1
done
chmod 0755 "$XDG_RUNTIME_DIR/systemd"; chmod 0777 "$XDG_RUNTIME_DIR/systemd/notify"   # as /run/systemd/notify is
sc() { systemctl --user "$@"; }
prop() { sc show embedtornado.service -p "$1" --value; }
get() { curl -s -m 30 "http://127.0.0.1:$PORT$1"; }

# --- socket activation, readiness ---------------------------------------------------
sc start embedtornado.socket
t0=$(date +%s.%N)
if [ "$(get /check/slow?s=0)" = "slow done" ]; then pass "socket activation: first request served"
else bad "socket activation"; fi
t1=$(date +%s.%N)
echo "     first response after activation: $("$PY" -c "print(round($t1 - $t0, 2))") s"
[ "$(prop ActiveState)" = active ] && pass "Type=notify: active" || bad "state $(prop ActiveState)"
case "$(prop StatusText)" in "serving on 127.0.0.1:$PORT"*) pass "STATUS: $(prop StatusText)";;
    *) bad "StatusText $(prop StatusText)";; esac
[ -n "${DEBUG:-}" ] && get /check/env && echo
who=$(get /check/who); uid=${who#* }
[ "$uid" != 0 ] && pass "runs as dynamic user uid $uid" || bad "runs as root"
pid=${who% *}
grep -q 'NoNewPrivs:.*1' /proc/$pid/status && pass "NoNewPrivs" || bad "NoNewPrivs"
grep -q 'Seccomp:.*2' /proc/$pid/status && pass "seccomp filter" || bad "seccomp"
get / | grep -q '<h2>Plugins</h2>' && pass "demo status page" || bad "demo status page"

# --- reload ----------------------------------------------------------------------------
main1=$(prop MainPID)
if sc reload embedtornado.service && [ "$(prop MainPID)" = "$main1" ]; then
    get /healthz | grep -q '"ok": 1' && pass "systemctl reload (same pid, reloads ok=1)" \
        || bad "reload not counted: $(get /healthz | grep -A2 reloads)"
else bad "systemctl reload"; fi
cp /run/etcheck/embedtornado.conf /run/etcheck/good.conf
echo 'max_body_size = "lots"' >> /run/etcheck/embedtornado.conf
if sc reload embedtornado.service 2>/dev/null; then bad "a bad config was reloaded"
else
    [ "$(prop ActiveState)" = active ] && [ "$(get /check/slow?s=0)" = "slow done" ] \
        && pass "bad config: reload refused, still serving" || bad "bad config broke the service"
fi
cp /run/etcheck/good.conf /run/etcheck/embedtornado.conf

# --- stop drains --------------------------------------------------------------------------
get /check/slow?s=2 > /run/etcheck/slow.out &
CURL=$!
sleep 0.5
sc stop embedtornado.service
wait $CURL || true
[ "$(cat /run/etcheck/slow.out)" = "slow done" ] && pass "systemctl stop drained the in-flight request" \
    || bad "in-flight request lost: '$(cat /run/etcheck/slow.out)'"
[ "$(prop Result)" = success ] && pass "clean stop (Result=success)" || bad "Result $(prop Result)"

# --- watchdog ---------------------------------------------------------------------------
get /check/slow?s=0 >/dev/null   # activates again
main1=$(prop MainPID)
get /check/block?s=8 >/dev/null 2>&1 || true
i=0
while [ "$(prop NRestarts)" = 0 ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
[ "$(prop NRestarts)" -ge 1 ] && pass "watchdog: blocked loop killed and restarted (NRestarts=$(prop NRestarts))" \
    || bad "no watchdog restart"
[ "$(get /check/slow?s=0)" = "slow done" ] && [ "$(prop MainPID)" != "$main1" ] \
    && pass "serving again from a new process" || bad "not serving after the restart"
sc stop embedtornado.service embedtornado.socket
exit $fail
