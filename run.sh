#!/usr/bin/env bash
# genre-desktop set-up and launcher. Idempotent: each step is skipped when already done.
#
#   ./run.sh app [FILES...]   set up everything on first use, then open the app
#   ./run.sh test [ARGS...]   same set-up, then run the whole test suite (pytest ARGS)
#   ./run.sh setup            set-up only
#
# Set-up: Debian packages (audio I/O, ffmpeg, Qt's runtime libraries, Xvfb and PulseAudio
# for the tests), then .venv/ with torch==2.13.0 (CPU) installed first, then the project.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

APT_PACKAGES=(
  python3-venv libportaudio2 libsndfile1 ffmpeg
  libegl1 libgl1 libopengl0 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libglib2.0-0
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0
  libxcb-xinerama0 libxcb-randr0 libxcb-xfixes0 libxcb-xkb1
  xvfb xauth pulseaudio pulseaudio-utils libasound2-plugins
  espeak-ng sox desktop-file-utils
)
TORCH_PIN="torch==2.13.0"

say() { printf '[genre-desktop] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root (or sudo) to install: $*"; return 1; fi
}

ensure_apt() {
  command -v dpkg-query >/dev/null || { say "not a Debian-like system: install the equivalents of: ${APT_PACKAGES[*]}"; return 0; }
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

ensure_venv() {
  local stamp=.venv/.setup-stamp want
  want="$(sha1sum pyproject.toml | cut -d' ' -f1)"
  if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
  [ -x .venv/bin/python ] || { say "creating .venv"; python3 -m venv .venv; }
  say "installing $TORCH_PIN (CPU) first, then the project"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q "$TORCH_PIN"
  .venv/bin/python -m pip install -q -e ".[test]"
  echo "$want" > "$stamp"
}

ensure_desktop_entry() {  # the menu entry and icon, for this user only; never fatal
  .venv/bin/genre-desktop-cli desktop-install >/dev/null 2>&1 || say "could not add the desktop menu entry (skipped)"
}

setup() { ensure_apt; ensure_venv; ensure_desktop_entry; }

cmd="${1:-app}"; shift || true
case "$cmd" in
  setup) setup ;;
  app)   setup; exec .venv/bin/genre-desktop "$@" ;;
  test)  setup; .venv/bin/ruff check --quiet . || { say "ruff found problems (above)"; exit 1; }
         exec .venv/bin/python -m pytest "$@" ;;
  *)     say "usage: ./run.sh app [FILES...] | ./run.sh test [PYTEST ARGS...] | ./run.sh setup"; exit 2 ;;
esac
