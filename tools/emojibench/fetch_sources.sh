#!/bin/sh
# Fetch everything tools/emojibench/build_pack.py reads:
#   - Debian packages: Unicode/CLDR data, the fonts, the Python modules (needs root or sudo;
#     skipped when already installed; set EMOJIBENCH_SKIP_APT=1 to skip entirely),
#   - pinned Iconify icon sets from the npm registry (`npm pack NAME@VERSION`), each checked
#     against the sha256 recorded below.
# Usage: tools/emojibench/fetch_sources.sh [SOURCES_DIR]
#        (default ${XDG_CACHE_HOME:-~/.cache}/skiptune/emojibench/sources)
set -eu

SOURCES_DIR=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/skiptune/emojibench/sources}

DEBIAN_PACKAGES="unicode-data unicode-cldr-core fonts-noto-color-emoji fonts-symbola fonts-unifont
python3 python3-numpy python3-pil python3-fonttools python3-gi python3-gi-cairo python3-cairo
gir1.2-rsvg-2.0 libraqm0 npm"

# package@version sha256 (of the tarball `npm pack` writes). Keep in sync with artwork.NPM_SHA256.
NPM_TARBALLS="
@iconify-json/fluent-emoji-flat@1.2.6 7d064769dee690815f823bc5bcc511d957198caf9f5edd8dd9c1aa48a6aeb175
@iconify-json/noto-v1@1.2.5 2bf62c26c2c2884aa99e90aec942cdaee17a5921f05690694f4978ad4b017c37
@iconify-json/openmoji@1.2.29 03181e2c156cab35cf4a62f1f7886bd971d59212e75ac3f189d5a4cae3930fc5
@iconify-json/emojione@1.2.3 26a14f44284407e8bcde91799388dca2bfd91dbcd55a97f425524a1c5b73610e
@iconify-json/twemoji@1.2.5 19046dff7d8707ce96212ec86468b36ac5f8e60409629dd13f809265c6d0ebb7
@iconify-json/emojione-v1@1.2.3 6641d59d48a42823fdc2b84e7427e9f302944eb98d2c7d94d6e67c139e7b37b3
@iconify-json/fxemoji@1.2.2 f3e72b3c59d05e1db03b7e308d55c0d05bd7ba3f625a90da1b79313c12858eef
@iconify-json/streamline-emojis@1.2.4 5dac87c876b322500989828c5823143e0100d78881627a2e4081a4b897cbfdbc
@iconify-json/fluent-emoji-high-contrast@1.2.6 0b92d48c90d2200bd499e3cdd09a127ca6a8c8ddefd34c35eb5a1e4994012ae0
@iconify-json/emojione-monotone@1.2.1 40b90004bafb406b59266155ef9b7e1dd67bf2947fc8db8d07388776f4d0d04e
"

say() { printf 'fetch_sources: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# --- Debian packages --------------------------------------------------------------------------
missing=""
for package in $DEBIAN_PACKAGES; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  case "$status" in *"install ok installed"*) ;; *) missing="$missing $package" ;; esac
done
if [ -n "$missing" ] && [ "${EMOJIBENCH_SKIP_APT:-0}" != 1 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO=sudo; else
    die "missing Debian packages:$missing — install them as root: apt-get install$missing"; fi
  say "installing Debian packages:$missing"
  $SUDO apt-get update
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing \
    || die "apt-get install failed; install these packages by hand:$missing"
elif [ -n "$missing" ]; then
  say "warning: EMOJIBENCH_SKIP_APT=1 and these Debian packages are missing:$missing"
else
  say "Debian packages: all present"
fi

# --- npm tarballs -----------------------------------------------------------------------------
command -v npm >/dev/null || die "npm not found: apt-get install npm (only 'npm pack' is used)"
command -v sha256sum >/dev/null || die "sha256sum not found: apt-get install coreutils"
mkdir -p "$SOURCES_DIR"
echo "$NPM_TARBALLS" | while read -r spec sum; do
  [ -n "$spec" ] || continue
  name=${spec%@*}; version=${spec##*@}
  file=$(printf '%s' "$name" | sed 's|^@||; s|/|-|')-$version.tgz
  if [ -f "$SOURCES_DIR/$file" ] && [ "$(sha256sum "$SOURCES_DIR/$file" | cut -d' ' -f1)" = "$sum" ]; then
    say "ok      $file"
    continue
  fi
  say "fetch   $spec"
  tmp=$(mktemp -d "$SOURCES_DIR/.npm-pack.XXXXXX")
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null) || { rm -rf "$tmp"; die "npm pack $spec failed"; }
  got=$(sha256sum "$tmp/$file" | cut -d' ' -f1)
  if [ "$got" != "$sum" ]; then
    rm -rf "$tmp"
    die "$spec: sha256 $got, expected $sum (the registry served different bytes)"
  fi
  mv "$tmp/$file" "$SOURCES_DIR/$file"
  rm -rf "$tmp"
  say "ok      $file"
done
say "sources in $SOURCES_DIR"
