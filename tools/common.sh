# Shared by tools/demo, tools/test and tools/bench: install what is missing, configure, build.
# Sourced, not run.

set -euo pipefail

WEFT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian 12 packages weft needs to build, test and benchmark (DESIGN.md, "Toolchain").
WEFT_PACKAGES=(
  clang-19 libclang-rt-19-dev g++ meson ninja-build pkg-config
  libboost1.81-dev libboost-context1.81-dev libboost-fiber1.81-dev libboost-stacktrace1.81-dev
  catch2 libfmt-dev libbenchmark-dev libtbb-dev prometheus wrk procps
  cmake  # tools/check-install only: a consumer of the CMake package; the build never needs it
  clang-format-19  # tools/format: the style check CI runs
  libsqlite3-dev  # weft::sqlite_store (meson feature `sqlite`, on by default)
  chromium  # the dashboard page's test in a headless browser, tools/dashboard-screenshot
  llvm-19  # llvm-symbolizer: the sanitizers' reports name functions and lines (tools/test)
)

weft_install_packages() {
  local missing=()
  for p in "${WEFT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then return 0; fi
  echo "weft: installing ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# weft_configure <build dir> <variant>; variants: release (clang-19), tsan, asan (clang-19
# with ThreadSanitizer / AddressSanitizer+UBSan), gcc (g++ 12).
weft_configure() {
  local dir=$1 variant=$2
  local args=()
  local cxx=clang++-19
  case "$variant" in
    release) args+=(-Dbuildtype=release) ;;
    tsan) args+=(-Dbuildtype=debugoptimized -Db_sanitize=thread -Dbenchmarks=false -Dexamples=false) ;;
    asan) args+=(-Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false -Dbenchmarks=false -Dexamples=false) ;;
    gcc) cxx=g++; args+=(-Dbuildtype=release -Dbenchmarks=false) ;;
    *) echo "weft: unknown build variant '$variant' (release, tsan, asan, gcc)" >&2; return 2 ;;
  esac
  if [ ! -f "$dir/build.ninja" ]; then
    CXX=$cxx meson setup "$dir" "$WEFT_ROOT" "${args[@]}"
  fi
}

weft_build() {
  local dir=$1
  shift
  ninja -C "$dir" "$@"
}
