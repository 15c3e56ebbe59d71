# mlflow-stack: the recipes CI runs (.ci/run calls the same commands without just).

default:
    @just --list

# ---- build

# Compile the example stack into deploy/example (the README's first command).
example:
    cargo run --release -- build stacks/example.toml --out deploy/example

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

# Regenerate the committed JSON Schema of the stack file.
schema:
    cargo run --quiet -- schema > stacks/stack.schema.json

# Every bundle through kubernetes-validate, kustomize, yamllint, shellcheck, checkov, taplo.
conformance:
    bash tests/conformance/run.sh

# The generated server for real: PostgreSQL, a GCS emulator, MLflow, examples/train.py.
e2e:
    bash tests/e2e/run.sh

# Everything CI runs.
ci:
    bash .ci/run

# ---- performance and robustness

# In-process and whole-process benchmarks (never timed tests).
bench:
    cargo bench --bench compile
    bash tests/bench/hyperfine.sh

# Fuzz the compiler's entry point for the given seconds (cargo-fuzz on stable via RUSTC_BOOTSTRAP).
fuzz seconds="600":
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
    mkdir -p fuzz/corpus/compile
    RUSTC_BOOTSTRAP=1 cargo fuzz run compile fuzz/corpus/compile stacks tests/fixtures/bad -- -dict=fuzz/toml.dict -max_len=8192 -max_total_time={{seconds}}
