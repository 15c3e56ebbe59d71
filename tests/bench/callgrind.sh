#!/usr/bin/env bash
# Instruction counts of the release binary under `valgrind --tool=callgrind` (`just bench`
# runs this after the wall-time benchmarks). Unlike wall time on a shared machine, the
# count of instructions a run executes barely moves with the load of the host, so these
# figures compare across machines and days:
#
#   true           /bin/true: the floor of starting a process under valgrind
#   build-one      build stacks/example.toml into a new directory
#   check-one      check stacks/example.toml
#   build-fleet    build N generated stacks (default 1,000, as hyperfine.sh) into a new directory
#   check-fleet    build --check of the same N stacks against their up-to-date bundles
#   hostile-SHAPE  check of a hostile 1 MB stack file of each shape of gen-hostile.sh
#
# check-one has a target: at most 4 M instructions (10.4 M at d98dac7, issue 22); the line
# after it says whether this run meets it.
#
# Environment: BENCH_FLEET (default 1000) stacks in the fleet; BENCH_BIN a binary to measure
# instead of a fresh release build.
set -euo pipefail
cd "$(dirname "$0")/../.."

fleet=${BENCH_FLEET:-1000}
command -v valgrind >/dev/null || {
    command -v apt-get >/dev/null || { echo "bench: install valgrind first" >&2; exit 2; }
    apt-get install -y -qq valgrind >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get install -y -qq valgrind >/dev/null; }
}
if [[ -n ${BENCH_BIN:-} ]]; then
    bin=$(realpath "$BENCH_BIN")
else
    cargo build --release --quiet
    bin=$PWD/target/release/mlflow-stack
fi
work=$(mktemp -d -p "${BENCH_TMPDIR:-/dev/shm}" mlflow-stack-callgrind.XXXXXX 2>/dev/null ||
    mktemp -d -p "$PWD/target" mlflow-stack-callgrind.XXXXXX)
trap 'rm -rf "$work"' EXIT
bash tests/bench/gen-stacks.sh "$work/fleet" "$fleet"
bash tests/bench/gen-hostile.sh "$work/hostile"

# Instructions executed by a command (all its threads), from callgrind's summary line;
# the command may fail (a hostile file's check exits 1).
instructions() {
    { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null || true; } |
        sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p'
}
count=
row() {
    local name=$1
    shift
    count=$(instructions "$@")
    [[ -n $count ]] || { echo "bench: no count for $name" >&2; exit 1; }
    printf '  %-26s %14s instructions (%s M)\n' "$name" "$count" \
        "$(awk -v n="$count" 'BEGIN { printf "%.2f", n / 1e6 }')"
}
# target MAX: whether the last row's count is at most MAX instructions.
target() {
    local verdict=met
    ((count <= $1)) || verdict=MISSED
    printf '  %-26s %14s instructions at most: %s\n' "  target" "$1" "$verdict"
}

echo "mlflow-stack $("$bin" --version | cut -d' ' -f2) under $(valgrind --version), $(date -u +%Y-%m-%d); load average:$(uptime | sed 's/.*load average://')"
row "true" /bin/true
row "build-one" "$bin" build stacks/example.toml --out "$work/one"
row "check-one" "$bin" check stacks/example.toml
target 4000000
row "build-fleet ($fleet stacks)" "$bin" build "$work"/fleet/*.toml --out "$work/out"
row "check-fleet ($fleet stacks)" "$bin" build "$work"/fleet/*.toml --out "$work/out" --check
for file in "$work"/hostile/*.toml; do
    row "hostile-$(basename "$file" .toml)" "$bin" check "$file"
done
