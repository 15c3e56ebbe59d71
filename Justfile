# mlflow-stack: the recipes CI runs (.ci/run calls the same commands without just).

default:
    @just --list

# ---- build

# Compile the example stack into deploy/example/ (the README's first command).
example:
    cargo run --release -- build stacks/example.toml --out deploy

# Build the release binary.
build:
    cargo build --release

# ---- test

# The test suite: unit, integration, snapshot and generative tests.
test:
    cargo test

# Review changed snapshots (needs cargo-insta), or accept them all with INSTA_UPDATE=always.
snap:
    INSTA_UPDATE=always cargo test
    git status --short snapshots

# Formatting and lints, as CI runs them.
lint:
    cargo fmt --check
    cargo clippy --all-targets -- -D warnings

# Refresh the server image's lock (lock/*.txt, embedded in the binary): resolves lock/*.in
# for the image's Python and platform, every wheel pinned by its sha256.
lock:
    bash lock/lock.sh

# Regenerate the committed JSON Schema of the stack file.
schema:
    cargo run --quiet -- schema > stacks/stack.schema.json

# Every bundle through kubernetes-validate, kustomize, yamllint, shellcheck, checkov, taplo.
conformance:
    bash tests/conformance/run.sh

# The generated server for real: PostgreSQL, a GCS emulator, MLflow, examples/train.py.
e2e:
    bash tests/e2e/run.sh

# The Dockerfile's pip install line, run as written in fresh CPython 3.12 venvs (no Docker).
image:
    bash tests/image/run.sh

# Every bundle applied, upgraded and deleted on a real kube-apiserver (built once into ~/.cache).
cluster:
    bash tests/cluster/run.sh

# Everything CI runs.
ci:
    bash .ci/run

# ---- performance and robustness

# In-process and whole-process benchmarks (never timed tests): wall times, then
# instruction counts under callgrind, which do not move with the host's load.
bench:
    cargo bench --bench compile
    bash tests/bench/hyperfine.sh
    bash tests/bench/callgrind.sh

# Fuzz the compiler's entry point for the given seconds (cargo-fuzz on stable via RUSTC_BOOTSTRAP).
fuzz seconds="600":
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
    mkdir -p fuzz/corpus/compile
    RUSTC_BOOTSTRAP=1 cargo fuzz run compile fuzz/corpus/compile stacks tests/fixtures/bad -- -dict=fuzz/toml.dict -max_len=8192 -max_total_time={{seconds}}

# Fuzz what build and build --check do with a bundle directory holding arbitrary entries.
fuzz-dir seconds="300":
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
    mkdir -p fuzz/corpus/bundle_dir
    RUSTC_BOOTSTRAP=1 cargo fuzz run bundle_dir fuzz/corpus/bundle_dir -- -max_len=512 -max_total_time={{seconds}}

# ---- install

# Install the binary (~/.cargo/bin), shell completions where bash, zsh and fish find them,
# and the man pages in ~/.cargo/share/man, which man-db searches for ~/.cargo/bin on PATH.
install:
    #!/usr/bin/env bash
    set -euo pipefail
    cargo install --path . --locked
    bin="${CARGO_HOME:-$HOME/.cargo}/bin/mlflow-stack"
    bash_dir="${XDG_DATA_HOME:-$HOME/.local/share}/bash-completion/completions"
    fish_dir="${XDG_CONFIG_HOME:-$HOME/.config}/fish/completions"
    zsh_dir="$HOME/.zfunc"
    mkdir -p "$bash_dir" "$fish_dir" "$zsh_dir"
    "$bin" completions bash > "$bash_dir/mlflow-stack"
    "$bin" completions zsh > "$zsh_dir/_mlflow-stack"
    "$bin" completions fish > "$fish_dir/mlflow-stack.fish"
    "$bin" man "${CARGO_HOME:-$HOME/.cargo}/share/man/man1"
    echo "zsh: add 'fpath+=~/.zfunc' before compinit in ~/.zshrc"
