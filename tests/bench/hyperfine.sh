#!/usr/bin/env bash
# Whole-process benchmarks of the release binary (`just bench` runs this after the
# in-process `cargo bench --bench compile`):
#
#   build-one      build stacks/example.toml into a new directory
#   manifests-one  manifests stacks/example.toml (stdout discarded)
#   build-fleet    build N generated stacks (default 1,000) into a new directory
#   check-fleet    build --check of the same N stacks against their up-to-date bundles
#   hostile        check of a hostile 1 MB stack file of each shape of gen-hostile.sh
#
# and the peak memory (max RSS, GNU time) of each. Results: target/bench/*.md and *.json.
#
# build-fleet has a target: at most 0.4 s of user CPU per build of 1,000 stacks (1.10 s at
# d98dac7, issue 22); after its table the script prints the mean user and system CPU of
# its runs and whether the user CPU meets the target (with BENCH_STACKS=1000 only).
#
# Environment: BENCH_STACKS (default 1000) stacks in the fleet; BENCH_RUNS_ONE (default 300)
# and BENCH_RUNS_FLEET (default 10) runs per case; BENCH_BIN a binary to measure instead of
# a fresh release build (to compare two versions); BENCH_TMPDIR where the stacks and
# bundles go. Measure on a quiet machine: the script prints the load average first.
#
# BENCH_TMPDIR defaults to /dev/shm (tmpfs), so that the figures are mlflow-stack's own and
# repeatable. On a disk the fresh builds also time the file system, and on this project's
# machines (ext4 without a journal) that depends on history: creating a file scans the
# inodes recently deleted in its block group, so after large deletes (every test run
# deletes its files in /tmp) a fresh build of 1,000 stacks takes from 0.4 s to several
# seconds, nearly all of it system time. On a disk (BENCH_TMPDIR=target) the timed builds
# move earlier outputs aside rather than delete them.
set -euo pipefail
cd "$(dirname "$0")/../.."

stacks=${BENCH_STACKS:-1000}
runs_one=${BENCH_RUNS_ONE:-300}
runs_fleet=${BENCH_RUNS_FLEET:-10}

install() {
    # Debian packages: hyperfine, and GNU time for the max RSS.
    command -v apt-get >/dev/null || { echo "bench: install $* first" >&2; exit 2; }
    apt-get install -y -qq "$@" >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get install -y -qq "$@" >/dev/null; }
}
command -v hyperfine >/dev/null || install hyperfine
[[ -x /usr/bin/time ]] || install time

if [[ -n ${BENCH_BIN:-} ]]; then
    bin=$(realpath "$BENCH_BIN")
else
    cargo build --release --quiet
    bin=$PWD/target/release/mlflow-stack
fi
results=$PWD/target/bench
mkdir -p "$results"

tmpdir=${BENCH_TMPDIR:-/dev/shm}
[[ -d $tmpdir && -w $tmpdir ]] || tmpdir=$PWD/target
fs=$(stat -f -c %T "$tmpdir")
work=$(mktemp -d -p "$tmpdir" mlflow-stack-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/aside"
bash tests/bench/gen-stacks.sh "$work/fleet" "$stacks"
bash tests/bench/gen-hostile.sh "$work/hostile"
# Gets a previous output out of the way, untimed: on tmpfs it is deleted, on a disk moved
# aside (a rename: nothing is deleted until the end).
if [[ $fs == tmpfs ]]; then
    aside="rm -rf -- $work/out"
else
    aside="mv -- $work/out \"\$(mktemp -d -p $work/aside)\" 2>/dev/null || true"
fi

echo "mlflow-stack $("$bin" --version | cut -d' ' -f2), $(nproc) cores, in $tmpdir; load average:$(uptime | sed 's/.*load average://')"
echo

hyperfine --shell=none --warmup 10 --runs "$runs_one" --prepare "sh -c '$aside'" \
    --export-markdown "$results/build-one.md" --export-json "$results/build-one.json" \
    --command-name "build-one" "$bin build stacks/example.toml --out $work/out"

hyperfine --shell=none --warmup 10 --runs "$runs_one" \
    --export-markdown "$results/manifests-one.md" --export-json "$results/manifests-one.json" \
    --command-name "manifests-one" "$bin manifests stacks/example.toml"

hyperfine --warmup 1 --runs "$runs_fleet" --prepare "$aside" \
    --export-markdown "$results/build-fleet.md" --export-json "$results/build-fleet.json" \
    --command-name "build-fleet ($stacks stacks)" \
    "$bin build $work/fleet/*.toml --out $work/out 2>/dev/null"
python3 - "$results/build-fleet.json" "$stacks" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))["results"][0]
verdict = "met" if run["user"] <= 0.4 else "MISSED"
line = f"CPU per run: {run['user']:.3f} s user + {run['system']:.3f} s system"
if sys.argv[2] == "1000":
    line += f"; target at most 0.400 s user: {verdict}"
print(line)
PY

"$bin" build "$work"/fleet/*.toml --out "$work/out" 2>/dev/null
hyperfine --warmup 1 --runs "$runs_fleet" \
    --export-markdown "$results/check-fleet.md" --export-json "$results/check-fleet.json" \
    --command-name "check-fleet ($stacks stacks)" \
    "$bin build $work/fleet/*.toml --out $work/out --check 2>/dev/null"

# `check` exits 1 on these files: its diagnostics are what is measured.
hostile=()
for file in "$work"/hostile/*.toml; do
    hostile+=(--command-name "hostile $(basename "$file" .toml)" "$bin check $file")
done
hyperfine --shell=none --ignore-failure --warmup 1 --runs "$runs_fleet" --output=null \
    --export-markdown "$results/hostile.md" --export-json "$results/hostile.json" "${hostile[@]}"

# Peak memory: the largest of five runs, in KiB. `fresh` moves the previous output aside
# first, so that every run writes a whole new bundle.
max_rss() {
    local mode=$1 peak=0 rss
    shift
    for _ in 1 2 3 4 5; do
        [[ $mode == fresh ]] && sh -c "$aside"
        rss=$(/usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -n1)
        ((rss > peak)) && peak=$rss
    done
    echo "$peak"
}
echo
echo "max RSS (KiB, largest of 5 runs):"
printf '  %-28s %s\n' "build-one" "$(max_rss fresh "$bin" build stacks/example.toml --out "$work/out")"
printf '  %-28s %s\n' "manifests-one" "$(max_rss keep "$bin" manifests stacks/example.toml)"
printf '  %-28s %s\n' "build-fleet ($stacks stacks)" \
    "$(max_rss fresh "$bin" build "$work"/fleet/*.toml --out "$work/out")"
printf '  %-28s %s\n' "check-fleet ($stacks stacks)" \
    "$(max_rss keep "$bin" build "$work"/fleet/*.toml --out "$work/out" --check)"
echo
echo "results: $results"
