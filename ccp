#!/usr/bin/env bash
# ccp: every project command with the pinned runtime, on a machine with only Node/npm.
#
#   ./ccp [options]          start the proxy (main.ts; same options as --help shows)
#   ./ccp doctor [options]   check the upstream
#   ./ccp test [files]       the tests under Deno (default: tests/)
#   ./ccp bench [options]    the benchmark
#   ./ccp compile            the standalone binary, dist/claude-code-proxy
#   ./ccp deno ...           the pinned Deno;  ./ccp bun ...  the pinned Bun
#
# The runtime comes from .tools/ (installed there from npm on first use, as .ci/run does), or
# from PATH when that is the pinned version. The last step is an `exec`: the PID that started
# is the runtime's own, so `kill PID` reaches the proxy itself and nothing is left running.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

DENO_VERSION=2.9.6
BUN_VERSION=1.4.5

# The path of the pinned `deno` or `bun` binary, installing it into .tools/ if needed.
runtime() {
  local name=$1 version=$2 bin
  bin="$ROOT/.tools/node_modules/.bin/$name"
  if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "$version"; then
    echo "$bin"
    return
  fi
  if bin=$(command -v "$name") && "$bin" --version 2>/dev/null | grep -q "$version"; then
    echo "$bin"
    return
  fi
  echo "ccp: installing $name $version into .tools/ (once)" >&2
  mkdir -p "$ROOT/.tools"
  [ -f "$ROOT/.tools/package.json" ] || echo '{"name":"ccp-tools","private":true}' >"$ROOT/.tools/package.json"
  (cd "$ROOT/.tools" && npm install --no-audit --no-fund --loglevel=error "$name@$version" >&2) || {
    echo "ccp: cannot install $name $version from npm" >&2
    exit 1
  }
  echo "$ROOT/.tools/node_modules/.bin/$name"
}

export DENO_NO_UPDATE_CHECK=1
case "${1:-}" in
  test)
    shift
    deno=$(runtime deno "$DENO_VERSION")
    cd "$ROOT"
    [ $# -gt 0 ] || set -- tests/
    exec "$deno" test -A "$@"
    ;;
  bench)
    shift
    deno=$(runtime deno "$DENO_VERSION")
    cd "$ROOT"
    exec "$deno" run -A bench/run.ts "$@"
    ;;
  compile)
    shift
    bun=$(runtime bun "$BUN_VERSION")
    cd "$ROOT"
    # Dependencies from bun.lock unless some runtime installed them already (same versions).
    [ -d node_modules/zod ] || "$bun" install --frozen-lockfile >&2
    exec "$bun" build --compile --splitting --no-compile-autoload-dotenv --no-compile-autoload-bunfig \
      --outfile dist/claude-code-proxy main.ts "$@"
    ;;
  deno)
    shift
    exec "$(runtime deno "$DENO_VERSION")" "$@"
    ;;
  bun)
    shift
    exec "$(runtime bun "$BUN_VERSION")" "$@"
    ;;
  *)
    # The proxy, from the caller's directory so that its .env is the one read.
    deno=$(runtime deno "$DENO_VERSION")
    exec "$deno" run --config "$ROOT/deno.json" --allow-net --allow-env --allow-read --allow-write \
      "$ROOT/main.ts" "$@"
    ;;
esac
