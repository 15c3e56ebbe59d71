#!/usr/bin/env bash
# Writes hostile stack files of about 1 MB each into DIR, one per shape, for the benchmarks
# of `check` on input made to be slow (`just bench`: tests/bench/compile.rs and
# tests/bench/callgrind.sh read them):
#
#   unknown-keys     100,000 unknown keys (`k00000=1`), one per line
#   duplicate-keys   `region` set again on every line
#   duplicate-tables `[server]` defined again and again
#   syntax-errors    a TOML syntax error on every line
#   bad-values       a table of wrong values on every other line
#   long-line        one line of 1 MB (a string value)
#   deep-nesting     an array nested 500,000 deep on one line
#
# Usage: gen-hostile.sh DIR
set -euo pipefail

dir=${1:?usage: gen-hostile.sh DIR}
mkdir -p "$dir"
required='project = "acme-ml-prod"
region = "europe-west3"
bucket = "acme-ml-prod-mlflow"
tag = "1.0.0"
environment = "gke"'

# shape NAME AWK-PROGRAM: the required keys, then what the program prints (it runs once).
shape() {
    { printf '%s\n' "$required"; awk "BEGIN { $2 }"; } >"$dir/$1.toml"
}
shape unknown-keys 'for (i = 0; i < 100000; i++) printf "k%05d=1\n", i'
shape duplicate-keys 'for (i = 0; i < 41000; i++) print "region = \"europe-west3\""'
shape duplicate-tables 'for (i = 0; i < 50000; i++) print "[server]\nreplicas = 2"'
shape syntax-errors 'for (i = 0; i < 80000; i++) printf "= %d [[ \"\n", i'
shape bad-values 'for (i = 0; i < 35000; i++) printf "[server%d]\nreplicas = \"many\"\n", i'
shape long-line 's = "x"; while (length(s) < 1000000) s = s s; printf "name = \"%s\"\n", s'
shape deep-nesting 's = "["; t = "]"; while (length(s) < 500000) { s = s s; t = t t }; printf "server = %s%s\n", s, t'
