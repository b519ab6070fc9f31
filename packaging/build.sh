#!/usr/bin/env bash
# Standalone Linux build of LCI Studio: bash packaging/build.sh [--bundle-only]
#
#   1. a build venv (packaging/build/venv) with the CPU torch, PyInstaller and a clean,
#      non-editable install of this checkout;
#   2. PyInstaller, one folder: packaging/dist/lci-studio/ (lci-studio, and lci as a link to it);
#   3. the downloads: packaging/dist/lci-studio-VERSION-linux-x86_64.tar.gz (per-user install
#      script inside) and packaging/dist/lci-studio_VERSION_amd64.deb (/opt/lci-studio).
#
# Runs offline from the machine's package index. PyInstaller runs under `nice` so that other
# work on a shared machine keeps going. Times every stage.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PKG=$ROOT/packaging
BUILD=$PKG/build
DIST=$PKG/dist
VENV=$BUILD/venv
PYTHON=${PYTHON:-python3}
TORCH_PIN=${TORCH_PIN:-torch==2.13.0}
PYINSTALLER_PIN=${PYINSTALLER_PIN:-pyinstaller==6.22.3}
stage() { printf '[build %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
START=$SECONDS

stage "build venv: $VENV"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q "$TORCH_PIN" "$PYINSTALLER_PIN" 2> >(grep -v "is ignored" >&2)
# Non-editable and forced: the bundle must hold this checkout as pip would install it. pip builds
# in the source tree (build/, *.egg-info), so it builds from a copy: the checkout stays as it was,
# and a test suite building its own wheel at the same time (.ci/run) does not share that folder.
# The tools' caches stay out too: .ci/run's checks write them while this copy is made, and tar
# fails on a file that changes under it.
SRC=$BUILD/src
rm -rf "$SRC" && mkdir -p "$SRC"
tar -C "$ROOT" --exclude=./.git --exclude=./.venv --exclude=./packaging/build --exclude=./packaging/dist \
    --exclude=./build --exclude='*.egg-info' --exclude=__pycache__ \
    --exclude=.mypy_cache --exclude=.pytest_cache --exclude=.ruff_cache --exclude=.hypothesis \
    -cf - . | tar -C "$SRC" -xf -
"$VENV/bin/pip" install -q --force-reinstall --no-deps "$SRC" 2> >(grep -v "is ignored" >&2)
"$VENV/bin/pip" install -q "$SRC" 2> >(grep -v "is ignored" >&2)
VERSION=$("$VENV/bin/python" -c "import lci_studio; print(lci_studio.__version__)")
"$VENV/bin/python" - <<'PY'
import lci_studio, sys
assert "site-packages" in lci_studio.__file__, f"not a plain install: {lci_studio.__file__}"
PY

stage "PyInstaller (one folder), $((SECONDS - START)) s so far"
T0=$SECONDS
nice -n 10 "$VENV/bin/pyinstaller" --noconfirm --log-level WARN \
    --distpath "$DIST" --workpath "$BUILD/work" "$PKG/lci-studio.spec"
APP=$DIST/lci-studio
ln -sf lci-studio "$APP/lci"
# torch's libraries ship their full symbol tables (89 MB of libtorch_cpu's 434 MB); the dynamic
# symbols that loading needs stay. Only torch's: stripping every library is known to break some.
find "$APP/_internal/torch" -name '*.so*' -type f -exec strip --strip-unneeded {} +
stage "PyInstaller took $((SECONDS - T0)) s; bundle $(du -sh "$APP" | cut -f1)"

if [ "${1:-}" = "--bundle-only" ]; then
    stage "done in $((SECONDS - START)) s (bundle only)"
    exit 0
fi

bash "$PKG/linux/make-artefacts.sh" "$APP" "$VERSION" "$DIST"
stage "done in $((SECONDS - START)) s"
ls -l "$DIST"
