#!/usr/bin/env bash
# Writes N valid, varied stack files (stack-0001.toml …) into DIR, for the fleet benchmarks.
# Usage: gen-stacks.sh DIR [N]   (N defaults to 1000)
#
# Names, projects, buckets, regions, environments and the optional sections vary the way
# a real fleet's do: teams × stages, gke and local, a few load balancers, HA databases,
# IAM auth and clusters that infra.sh creates.
set -euo pipefail

dir=${1:?usage: gen-stacks.sh DIR [N]}
count=${2:-1000}
mkdir -p "$dir"

teams=(vision nlp search ranking fraud ads forecast speech recsys risk pricing churn)
stages=(prod staging dev)
regions=(europe-west3 europe-west4 europe-west1 us-central1 us-east1 us-west1
    asia-northeast1 asia-southeast1 australia-southeast1 southamerica-east1 me-west1)

for ((i = 1; i <= count; i++)); do
    team=${teams[i % ${#teams[@]}]}
    stage=${stages[(i / ${#teams[@]}) % ${#stages[@]}]}
    region=${regions[i % ${#regions[@]}]}
    file=$(printf '%s/stack-%04d.toml' "$dir" "$i")
    project="acme-$team-$stage"
    name="$team-$i"
    if ((i % 4 == 0)); then environment=local; else environment=gke; fi
    {
        printf '#:schema ./stack.schema.json\n'
        printf '# %s team, %s: generated for the fleet benchmark.\n' "$team" "$stage"
        printf 'project = "%s"\n' "$project"
        printf 'region = "%s"\n' "$region"
        printf 'bucket = "%s-mlflow-%d"\n' "$project" "$i"
        printf 'tag = "1.%d.%d"\n' $((i % 7)) $((i % 3))
        printf 'environment = "%s"\n' "$environment"
        printf 'name = "%s"\n' "$name"
        if ((i % 3 == 0)); then printf 'namespace = "ml-%s"\nnamespace_shared = true\n' "$team"; fi
        lb=false
        if [[ $environment == gke ]] && ((i % 6 == 1)); then lb=true; fi
        if ((i % 5 == 0)) || [[ $lb == true ]]; then
            printf '\n[server]\nreplicas = %d\nworkers = %d\ncpu = "%s"\nmemory = "%s"\n' \
                $((2 + i % 2)) $((2 - i % 2)) "$((500 + 250 * (i % 3)))m" "$((1 + i % 2))Gi"
            if [[ $lb == true ]]; then
                printf 'allowed_hosts = ["mlflow-%s.%s.acme.example"]\n' "$i" "$team"
            fi
        fi
        if ((i % 7 == 0)); then
            printf '\n[database]\ntier = "db-custom-2-7680"\nhigh_availability = true\nstorage_gb = %d\n' \
                $((20 + i % 80))
            if [[ $environment == gke ]]; then printf 'auth = "iam"\n'; fi
        fi
        if ((i % 11 == 0)); then printf '\n[registry]\nrepository = "ml-%s"\n' "$team"; fi
        if [[ $lb == true ]]; then
            printf '\n[expose]\ntype = "load-balancer"\nport = 443\nstatic_ip = %s\nallow = ["203.0.113.0/24", "10.%d.0.0/16"]\n' \
                "$( ((i % 2)) && echo true || echo false)" $((i % 256))
            # Left open on purpose: a load balancer on gke is plain HTTP, no sign-in.
            printf '\n[auth]\nkind = "none"\n'
        fi
        if [[ $environment == gke ]] && ((i % 9 == 2)); then
            printf '\n[cluster]\nname = "%s-%s"\ncreate = true\n' "$team" "$stage"
        fi
        if [[ $environment == local ]] && ((i % 8 == 0)); then
            printf '\n[credentials]\ndir = ".credentials-%s"\n' "$team"
        fi
    } >"$file"
done
