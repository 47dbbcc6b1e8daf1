#!/usr/bin/env bash
# Install every build and test dependency of skiptune from Debian packages (bookworm names).
# Idempotent; needs root (or sudo). Set SKIPTUNE_SKIP_APT=1 to skip when you manage packages yourself.
set -euo pipefail
[ "${SKIPTUNE_SKIP_APT:-0}" = "1" ] && exit 0

packages=(
  build-essential cmake pkg-config      # compiler and build
  libeigen3-dev                         # Eigen 3.4: the CPU backend
  xtensor-dev xtl-dev                   # xtensor 0.24: N-d host arrays, .npy files
  catch2                                # Catch2 2.13: tests
  libbenchmark-dev                      # Google Benchmark 1.7: bench/
  zlib1g-dev                            # gzip'd BPE vocabulary
  libstb-dev                            # image decoding (libstb.so)
  libjpeg62-turbo-dev                   # JPEG decoding with libjpeg-turbo, as Pillow (libjpeg.so)
  python3                               # small test drivers
  clang libclang-rt-14-dev              # libFuzzer targets (fuzz_* tests)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all dependencies present"
