#!/bin/sh
# Build a Debian package of embedtornado for the host architecture:
#   device/debian/build-deb.sh [OUTDIR]          -> OUTDIR (default build/deb)/embedtornado_<version>-1_<arch>.deb
#   ARCH=arm64 SYSROOT=/path/to/arm64-root device/debian/build-deb.sh [OUTDIR]   (cross build)
#
# A cross build (ARCH=arm64 or armhf) compiles the extensions with the
# Debian cross compiler (gcc-aarch64-linux-gnu / gcc-arm-linux-gnueabihf)
# against a debootstrapped root of that architecture that has libpython3-dev
# and libc6-dev (device/arm/smoke.sh makes one), using that root's
# _sysconfigdata for the extension suffix and flags.
#
# Contents: the package with its compiled modules (built here against the
# system python3, so the package depends on that Python's minor version),
# /usr/bin/embedtornado, the systemd units, /etc/embedtornado/embedtornado.conf
# (a conffile), the demo plugins in /usr/lib/embedtornado/plugins and an empty
# /etc/embedtornado/plugins.d. Needs: python3, python3-dev (or -venv), gcc,
# dpkg-deb.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-$ROOT/build/deb}
PY=${PYTHON:-/usr/bin/python3}
HOST_ARCH=$(dpkg --print-architecture)
ARCH=${ARCH:-$HOST_ARCH}
VERSION=$("$PY" -c "import re;print(re.search(r'__version__ = \"([^\"]+)\"', open('$ROOT/src/embedtornado/_version.py').read()).group(1))")
if [ "$ARCH" = "$HOST_ARCH" ]; then
    PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    STRIP=strip
else
    : "${SYSROOT:?a cross build needs SYSROOT, a debootstrapped $ARCH root}"
    case $ARCH in
        arm64) TRIPLET=aarch64-linux-gnu; PLATFORM=linux-aarch64 ;;
        armhf) TRIPLET=arm-linux-gnueabihf; PLATFORM=linux-armv7l ;;
        *) echo "unknown ARCH $ARCH" >&2; exit 2 ;;
    esac
    PYVER=$(basename "$(ls -d "$SYSROOT"/usr/include/python3.* | head -1)" | sed 's/^python//')
    STRIP=$TRIPLET-strip
    # the build runs on the host Python (with Cython), so it must be the same minor version
    "$PY" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$PYVER' else 1)" \
        || { echo "PYTHON must be a Python $PYVER with Cython (the target's version)" >&2; exit 2; }
fi
PYNEXT=$(echo "$PYVER" | awk -F. '{print $1 "." $2 + 1}')
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
STAGE=$WORK/stage

# 1. a wheel from a clean copy of the tree (never builds inside the checkout)
mkdir -p "$WORK/src"
(cd "$ROOT" && git archive HEAD 2>/dev/null || tar -c --exclude=.git --exclude=build --exclude=.venv .) \
    | tar -x -C "$WORK/src"
if [ "$ARCH" = "$HOST_ARCH" ]; then
    EMBEDTORNADO_REQUIRE_EXTENSIONS=1 "$PY" -m pip wheel -q --no-deps -w "$WORK/wheel" "$WORK/src"
else
    mkdir -p "$WORK/sysconfig"
    DATA=$(ls "$SYSROOT"/usr/lib/python"$PYVER"/_sysconfigdata__*"$TRIPLET"*.py | head -1)
    cp "$DATA" "$WORK/sysconfig/"
    INC="-I$SYSROOT/usr/include/python$PYVER -I$SYSROOT/usr/include/$TRIPLET/python$PYVER"
    (cd "$WORK/src" && \
        _PYTHON_HOST_PLATFORM=$PLATFORM \
        _PYTHON_SYSCONFIGDATA_NAME=$(basename "$DATA" .py) \
        PYTHONPATH=$WORK/sysconfig \
        CC="$TRIPLET-gcc --sysroot=$SYSROOT" \
        LDSHARED="$TRIPLET-gcc --sysroot=$SYSROOT -shared" \
        CFLAGS="$INC" LDFLAGS="" \
        EMBEDTORNADO_REQUIRE_EXTENSIONS=1 \
        "$PY" setup.py -q bdist_wheel -d "$WORK/wheel" >"$WORK/cross-build.log" 2>&1) \
        || { tail -20 "$WORK/cross-build.log"; exit 1; }
fi

# 2. unpack it where Debian's python3 looks
SITE=$STAGE/usr/lib/python3/dist-packages
mkdir -p "$SITE"
"$PY" -m zipfile -e "$WORK"/wheel/embedtornado-*.whl "$SITE"
rm -rf "$SITE"/embedtornado-*.dist-info
find "$SITE" -name '*.so' -exec "$STRIP" --strip-unneeded {} +
find "$SITE" -name '__pycache__' -prune -exec rm -rf {} +

# 3. the entry point, units, config, plugins, docs
install -D -m 0755 /dev/stdin "$STAGE/usr/bin/embedtornado" <<'PYEOF'
#!/usr/bin/python3
import sys
from embedtornado.daemon.cli import main
sys.exit(main())
PYEOF
for unit in embedtornado.service embedtornado.socket embedtornado@.service; do
    install -D -m 0644 "$ROOT/systemd/$unit" "$STAGE/lib/systemd/system/$unit"
done
install -d -m 0755 "$STAGE/etc/embedtornado/plugins.d" "$STAGE/usr/lib/embedtornado"
sed -e 's|^plugins_dir = .*|plugins_dir = ["/usr/lib/embedtornado/plugins", "/etc/embedtornado/plugins.d"]|' \
    -e 's|^address = .*|address = ""|' -e 's|^port = .*|port = 80|' \
    "$ROOT/device/embedtornado.conf" > "$STAGE/etc/embedtornado/embedtornado.conf"
cp -r "$ROOT/device/plugins" "$STAGE/usr/lib/embedtornado/plugins"
install -D -m 0644 "$ROOT/docs/daemon.md" "$STAGE/usr/share/doc/embedtornado/daemon.md"
install -D -m 0644 "$ROOT/device/nginx/embedtornado.conf" \
    "$STAGE/usr/share/doc/embedtornado/examples/nginx-embedtornado.conf"
printf 'embedtornado\nLicense: Apache-2.0\n' > "$STAGE/usr/share/doc/embedtornado/copyright"

# 4. control files
mkdir -p "$STAGE/DEBIAN"
SIZE=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
cat > "$STAGE/DEBIAN/control" <<CTL
Package: embedtornado
Version: $VERSION-1
Architecture: $ARCH
Maintainer: embedtornado developers <embedtornado@localhost>
Installed-Size: $SIZE
Depends: python3 (>= $PYVER), python3 (<< $PYNEXT), procps
Section: web
Priority: optional
Description: Tornado-compatible web daemon for Linux appliances
 HTTP/1.1 server and web framework with compiled hot paths, handler
 plugins, systemd notify/watchdog/socket activation and hardened units.
CTL
echo /etc/embedtornado/embedtornado.conf > "$STAGE/DEBIAN/conffiles"
cat > "$STAGE/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -x /usr/bin/deb-systemd-helper ]; then
    deb-systemd-helper unmask embedtornado.socket >/dev/null || true
    if deb-systemd-helper --quiet was-enabled embedtornado.socket; then
        deb-systemd-helper enable embedtornado.socket >/dev/null || true
    else
        deb-systemd-helper update-state embedtornado.socket >/dev/null || true
    fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        deb-systemd-invoke restart embedtornado.socket >/dev/null || true
    fi
fi
SH
cat > "$STAGE/DEBIAN/prerm" <<'SH'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    deb-systemd-invoke stop embedtornado.socket embedtornado.service >/dev/null || true
fi
SH
cat > "$STAGE/DEBIAN/postrm" <<'SH'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = purge ] && [ -x /usr/bin/deb-systemd-helper ]; then
    deb-systemd-helper purge embedtornado.socket embedtornado.service >/dev/null || true
fi
SH
chmod 0755 "$STAGE/DEBIAN/postinst" "$STAGE/DEBIAN/prerm" "$STAGE/DEBIAN/postrm"

mkdir -p "$OUT"
DEB="$OUT/embedtornado_${VERSION}-1_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >/dev/null
echo "$DEB ($(du -k "$DEB" | cut -f1) KiB; installed ${SIZE} KiB)"
