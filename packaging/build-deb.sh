#!/usr/bin/env bash
# Build framesift_<version>_<arch>.deb with dpkg-deb.
#
#   packaging/build-deb.sh [ARCH] [PYTHON_VERSION] [OUT_DIR]
#     ARCH            amd64 (default) or arm64 (Jetson / ARM servers)
#     PYTHON_VERSION  the target's /usr/bin/python3: 3.11 (Debian 12, default), 3.10 (JetPack 6 / Ubuntu 22.04)
#
# The application lives in a self-contained virtualenv under /opt/framesift: every Python
# dependency is inside (wheels for the target architecture and Python, fetched with
# `pip install --platform`, so an arm64 package builds on an amd64 host); only the
# system's python3 interpreter is used. Extra: cpu (onnxruntime) + hub. On Jetson, replace
# onnxruntime with NVIDIA's onnxruntime-gpu wheel after install (see README).
set -euo pipefail
ARCH=${1:-amd64}
PYVER=${2:-3.11}
OUT=${3:-dist}
HERE=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
case "$ARCH" in
  amd64) PLATFORMS=(manylinux_2_28_x86_64 manylinux2014_x86_64 manylinux_2_17_x86_64) ;;
  arm64) PLATFORMS=(manylinux_2_28_aarch64 manylinux2014_aarch64 manylinux_2_17_aarch64) ;;
  *) echo "unsupported architecture: $ARCH (amd64 or arm64)" >&2; exit 2 ;;
esac
VERSION=$("$PY" -c "import re,sys; print(re.search(r'__version__ = \"([^\"]+)\"', open(sys.argv[1]).read()).group(1))" "$HERE/agent/__init__.py")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/root"
APP="$ROOT/opt/framesift"
SITE="$APP/lib/python$PYVER/site-packages"
mkdir -p "$SITE" "$APP/bin" "$APP/share/doc" "$ROOT/etc/framesift" "$ROOT/lib/systemd/system" "$ROOT/DEBIAN" "$OUT"

echo "building the framesift wheel" >&2
"$PY" -m pip wheel -q --no-deps --wheel-dir "$WORK/wheel" "$HERE" 2>&1 | grep -v '^WARNING: Location' || true
WHEEL=$(ls "$WORK"/wheel/framesift-*.whl)
PLATFORM_ARGS=()
for p in "${PLATFORMS[@]}"; do PLATFORM_ARGS+=(--platform "$p"); done
echo "installing dependencies for $ARCH / CPython $PYVER into /opt/framesift" >&2
"$PY" -m pip install -q --no-compile --target "$SITE" --implementation cp --python-version "$PYVER" \
  --only-binary=:all: "${PLATFORM_ARGS[@]}" "${WHEEL}[cpu,hub]" 2>&1 | grep -v '^WARNING: Location' || true
test -d "$SITE/agent" || { echo "dependency install failed" >&2; exit 1; }
rm -rf "$SITE/bin"  # console scripts of --target installs point at the build machine

cat > "$APP/pyvenv.cfg" <<CFG
home = /usr/bin
include-system-site-packages = false
version = $PYVER
CFG
ln -s /usr/bin/python3 "$APP/bin/python"
ln -s python "$APP/bin/python3"
cat > "$APP/bin/framesift" <<'LAUNCH'
#!/bin/sh
# framesift launcher: run the package inside /opt/framesift's virtualenv (relocatable for tests).
here=$(dirname "$(readlink -f "$0")")
exec "$here/python" -m agent "$@"
LAUNCH
chmod 755 "$APP/bin/framesift"
cp "$HERE/README.md" "$HERE/examples/active_learning.json" "$APP/share/doc/"
sed -e 's|^# state_dir = .*|state_dir = "/var/lib/framesift"|' \
    -e 's|^# listen = "unix:/run/framesift/control.sock".*|listen = "unix:/run/framesift/control.sock"|' \
    -e '/^# example sources/,$d' "$HERE/examples/agent.toml" > "$ROOT/etc/framesift/agent.toml"
cp "$HERE/systemd/framesift.service" "$HERE/systemd/framesift-hub.service" "$ROOT/lib/systemd/system/"

SIZE=$(du -sk "$ROOT" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$SIZE/" -e "s/@PYVER@/$PYVER/g" \
  "$HERE/packaging/debian/control.in" > "$ROOT/DEBIAN/control"
cp "$HERE/packaging/debian/conffiles" "$HERE/packaging/debian/postinst" "$HERE/packaging/debian/prerm" \
   "$HERE/packaging/debian/postrm" "$ROOT/DEBIAN/"
chmod 755 "$ROOT/DEBIAN/postinst" "$ROOT/DEBIAN/prerm" "$ROOT/DEBIAN/postrm"
DEB="$OUT/framesift_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zgzip --build "$ROOT" "$DEB" >/dev/null
echo "$DEB"
