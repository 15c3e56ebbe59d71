//! The connection budget: the most PostgreSQL connections the stack can hold open at once,
//! against the `max_connections` Cloud SQL gives the tier by default.
//!
//! Each MLflow server worker opens one SQLAlchemy engine per store it serves (tracking,
//! model registry, jobs, and with basic auth the user store), and each engine's pool holds
//! up to `pool_size + max_overflow` connections. A rollout recreates the pods (no old pod
//! beside a new one), but an evicted pod's replacement starts while it shuts down; the
//! schema migrations and the garbage collector connect on their own; PostgreSQL and Cloud
//! SQL keep a few connections for superusers and maintenance.

use std::ops::Range;

use super::Validator;
use super::gcp::Tier;
use crate::diag::{Code, Diagnostic};
use crate::model::{Auth, Database, Server};
use crate::raw;

/// SQLAlchemy engines per MLflow server worker: the tracking store, the model registry
/// store and the job store each keep their own (`mlflow/store/*/sqlalchemy_store.py`).
pub const ENGINES_PER_WORKER: u32 = 3;
/// The engine the basic-auth app adds in each worker for its user store
/// (`mlflow/server/auth/sqlalchemy_store.py`, `init_db`), with the same pool settings (it
/// reads `MLFLOW_SQLALCHEMYSTORE_POOL_SIZE` and `MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW` too).
pub const BASIC_AUTH_ENGINES: u32 = 1;
/// Pods beyond the replica count. A rollout adds none: the Deployment's strategy is
/// `Recreate`, so every old pod is gone before a new one starts. But a pod evicted within
/// the PodDisruptionBudget (`maxUnavailable` 1, e.g. by a node drain) keeps its connections
/// while it shuts down, and its ReplicaSet starts the replacement at once.
pub const REPLACEMENT: u32 = 1;
/// A migration init container (`migrate`, and `migrate-auth` with basic auth) holds its
/// advisory-lock connection and the one the upgrade runs on. Init containers run one after
/// another, and pods starting together wait for the lock on one connection each, before
/// their servers open any.
pub const MIGRATION: u32 = 2;
/// `mlflow gc` opens one engine (the tracking store) with a pool of 1 + 1.
pub const GC: u32 = 2;

/// The default `max_overflow`: 2, or 1 with basic auth, so that the user store's engine
/// does not raise what the default pool holds: (3 engines × (2 + 2) = 4 engines × (2 + 1)).
#[must_use]
pub fn default_max_overflow(basic_auth: bool) -> u32 {
    if basic_auth { 1 } else { 2 }
}

/// SQLAlchemy engines per server worker, with or without MLflow's basic-auth app.
#[must_use]
pub fn engines_per_worker(basic_auth: bool) -> u32 {
    ENGINES_PER_WORKER + if basic_auth { BASIC_AUTH_ENGINES } else { 0 }
}

/// Connections kept free: PostgreSQL's `superuser_reserved_connections` (3), Cloud SQL's
/// own agents, and an operator's `psql` session.
pub const RESERVE: u32 = 10;

/// Cloud SQL for PostgreSQL's default `max_connections` by instance memory, from
/// "Quotas and limits", <https://cloud.google.com/sql/docs/postgres/quotas>
/// (Cloud SQL for PostgreSQL connection limits): (memory from, in MiB; connections).
const LIMITS: &[(u32, u32)] = &[
    (0, 25),         // 0.6 GiB, db-f1-micro
    (1741, 50),      // 1.7 GiB, db-g1-small
    (3840, 100),     // 3.75 GiB up to 6 GiB
    (6144, 200),     // 6 GiB up to 7.5 GiB
    (7680, 400),     // 7.5 GiB up to 15 GiB
    (15360, 500),    // 15 GiB up to 30 GiB
    (30720, 600),    // 30 GiB up to 60 GiB
    (61440, 800),    // 60 GiB up to 120 GiB
    (122_880, 1000), // 120 GiB and more
];

/// The default `max_connections` of an instance with this much memory.
#[must_use]
pub fn max_connections_of(memory_mib: u32) -> u32 {
    LIMITS
        .iter()
        .rev()
        .find(|(from, _)| memory_mib >= *from)
        .map_or(25, |&(_, limit)| limit)
}

/// The default `max_connections` of a tier.
#[must_use]
pub fn max_connections(tier: &Tier) -> u32 {
    max_connections_of(tier.shape().1)
}

/// Everything that holds connections, and the sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The most server pods that can run: the maximum replica count.
    pub replicas: u32,
    pub workers: u32,
    pub pool_size: u32,
    pub max_overflow: u32,
    /// Connections of the garbage collector, 0 without one.
    pub gc: u32,
    /// SQLAlchemy engines per worker: `engines_per_worker(basic_auth)`.
    pub engines: u32,
}

impl Budget {
    /// Server pods at the maximum replica count, an evicted pod's replacement included.
    #[must_use]
    pub fn pods(&self) -> u32 {
        self.replicas + REPLACEMENT
    }

    /// Connections of the server pods at most.
    #[must_use]
    pub fn servers(&self) -> u32 {
        self.pods() * self.workers * self.engines * (self.pool_size + self.max_overflow)
    }

    /// Every connection the stack may hold at once, the reserve included.
    #[must_use]
    pub fn total(&self) -> u32 {
        self.servers() + MIGRATION + self.gc + RESERVE
    }

    /// The sum written out, e.g. `(2 replicas + 1 replacement) × 2 workers × 3 engines × (2 pool
    /// + 2 overflow) + 2 migration + 10 reserve = 84`.
    #[must_use]
    pub fn arithmetic(&self) -> String {
        let gc = if self.gc > 0 {
            format!(" + {} garbage collection", self.gc)
        } else {
            String::new()
        };
        let plural = |n: u32, word: &str| {
            if n == 1 {
                format!("{n} {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        format!(
            "({} + {REPLACEMENT} replacement) × {} × {} × ({} pool + {} overflow) + {MIGRATION} migration{gc} + {RESERVE} reserve = {}",
            plural(self.replicas, "replica"),
            plural(self.workers, "worker"),
            plural(self.engines, "engine"),
            self.pool_size,
            self.max_overflow,
            self.total()
        )
    }

    /// The largest `(pool_size, max_overflow)` that fits `limit`, overflow at least 1
    /// (MLflow ignores 0 and SQLAlchemy then allows 10), or `None` when even 1 + 1 does not.
    #[must_use]
    pub fn fitting_pool(&self, limit: u32) -> Option<(u32, u32)> {
        let fixed = MIGRATION + self.gc + RESERVE;
        let per_connection = self.pods() * self.workers * self.engines;
        let per_engine = limit.checked_sub(fixed)? / per_connection;
        (per_engine >= 2).then(|| (per_engine.div_ceil(2), per_engine / 2))
    }

    /// The most replicas whose budget fits `limit` with this pool, or `None` when one does not.
    #[must_use]
    pub fn fitting_replicas(&self, limit: u32) -> Option<u32> {
        let fixed = MIGRATION + self.gc + RESERVE;
        let per_pod = self.workers * self.engines * (self.pool_size + self.max_overflow);
        let pods = limit.checked_sub(fixed)? / per_pod;
        pods.checked_sub(REPLACEMENT)
            .filter(|replicas| *replicas >= 1)
    }

    /// The smallest tier with the CPUs of `tier` (or more, where Cloud SQL requires more
    /// CPUs for the memory) whose default `max_connections` fits the budget.
    #[must_use]
    pub fn fitting_tier(&self, tier: &Tier) -> Option<(Tier, u32)> {
        let (cpus, memory) = tier.shape();
        let total = self.total();
        LIMITS
            .iter()
            .filter(|&&(from, limit)| from > memory && limit >= total && from >= 3840)
            .find_map(|&(from, limit)| {
                let candidates =
                    std::iter::once(cpus).chain((2..=96).step_by(2).filter(|c| *c > cpus));
                candidates
                    .map(|c| format!("db-custom-{c}-{from}"))
                    .find_map(|name| Tier::parse(&name).ok())
                    .map(|tier| (tier, limit))
            })
    }
}

impl Validator<'_> {
    /// `server` with the default `max_overflow` for `auth` when the stack does not set it.
    pub(super) fn default_pool_for_auth(
        raw: &raw::StackFile,
        mut server: Server,
        auth: Option<&Auth>,
    ) -> Server {
        let written = raw
            .server
            .as_ref()
            .is_some_and(|s| s.value.max_overflow.is_some());
        if !written {
            server.max_overflow = default_max_overflow(auth.is_some_and(Auth::user_store));
        }
        server
    }

    /// The most connections the stack can open must fit the tier's `max_connections`.
    pub(super) fn connection_budget(
        &mut self,
        raw: &raw::StackFile,
        server: &Server,
        database: &Database,
        gc: bool,
        auth: Option<&Auth>,
    ) {
        let budget = Budget {
            replicas: server.max_replicas.unwrap_or(server.replicas),
            workers: server.workers,
            pool_size: server.pool_size,
            max_overflow: server.max_overflow,
            gc: if gc { GC } else { 0 },
            engines: engines_per_worker(auth.is_some_and(Auth::user_store)),
        };
        let limit = max_connections(&database.tier);
        let total = budget.total();
        if total <= limit {
            return;
        }
        let raw_server = raw.server.as_ref().map(|s| &s.value);
        let raw_tier = raw.database.as_ref().and_then(|d| d.value.tier.as_ref());
        let most_pods = match server.max_replicas {
            Some(max) => raw_server
                .and_then(|s| s.max_replicas.as_ref())
                .map(|f| (f.span.clone(), format!("up to {max} replicas"))),
            None => raw_server
                .and_then(|s| s.replicas.as_ref())
                .map(|f| (f.span.clone(), format!("{} replicas", server.replicas))),
        };
        let involved: Vec<(Range<usize>, String)> = [
            most_pods,
            raw_server
                .and_then(|s| s.workers.as_ref())
                .map(|f| (f.span.clone(), format!("{} workers each", server.workers))),
            raw_server
                .and_then(|s| s.pool_size.as_ref())
                .map(|f| (f.span.clone(), format!("{} per engine", server.pool_size))),
            raw_server.and_then(|s| s.max_overflow.as_ref()).map(|f| {
                (
                    f.span.clone(),
                    format!("{} more per engine under load", server.max_overflow),
                )
            }),
            // The basic-auth app (also behind IAP) adds the user store's engine to every worker.
            auth.is_some_and(Auth::user_store)
                .then(|| raw.auth.as_ref().and_then(|a| a.value.kind.as_ref()))
                .flatten()
                .map(|f| {
                    (
                        f.span.clone(),
                        format!("{BASIC_AUTH_ENGINES} more engine per worker for the user store"),
                    )
                }),
        ]
        .into_iter()
        .flatten()
        .collect();
        let tier_label = format!("allows {limit} connections");
        let (span, label, related) = if let Some(field) = raw_tier {
            (field.span.clone(), tier_label, involved)
        } else {
            // The default tier: point at the first value that raised the count.
            let mut involved = involved.into_iter();
            let Some((span, label)) = involved.next() else {
                return;
            };
            (span, label, involved.collect())
        };
        let mut fixes = Vec::new();
        if let Some((tier, tier_limit)) = budget.fitting_tier(&database.tier) {
            fixes.push(format!(
                "`tier = \"{tier}\"` in `[database]` ({tier_limit} connections)"
            ));
        }
        if let Some((pool, overflow)) = budget.fitting_pool(limit) {
            let fitted = Budget {
                pool_size: pool,
                max_overflow: overflow,
                ..budget
            };
            fixes.push(format!(
                "`pool_size = {pool}` and `max_overflow = {overflow}` in `[server]` ({} connections)",
                fitted.total()
            ));
        }
        if fixes.is_empty() {
            let smallest = Budget {
                pool_size: 1,
                max_overflow: 1,
                ..budget
            };
            fixes.push(match smallest.fitting_replicas(limit) {
                Some(replicas) => format!(
                    "at most {replicas} replicas (`{}`) with `pool_size = 1` and `max_overflow = 1`, or fewer `workers`",
                    if server.max_replicas.is_some() { "max_replicas" } else { "replicas" }
                ),
                None => "fewer `workers`".to_owned(),
            });
        }
        let mut diagnostic = Diagnostic::error(
            Code::ConnectionBudget,
            span,
            format!(
                "the server can open {total} database connections; `{}` allows {limit}",
                database.tier
            ),
        )
        .label(label)
        .help(format!(
            "{}, more than {limit}; use {}",
            budget.arithmetic(),
            fixes.join(", or ")
        ));
        for (span, label) in related {
            diagnostic = diagnostic.related(span, label);
        }
        self.push(diagnostic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(name: &str) -> Tier {
        Tier::parse(name).unwrap()
    }

    #[test]
    fn limits_follow_cloud_sql_by_memory() {
        assert_eq!(max_connections(&tier("db-f1-micro")), 25);
        assert_eq!(max_connections(&tier("db-g1-small")), 50);
        assert_eq!(max_connections(&tier("db-custom-1-3840")), 100);
        assert_eq!(max_connections(&tier("db-custom-1-6144")), 200);
        assert_eq!(max_connections(&tier("db-custom-2-7680")), 400);
        assert_eq!(max_connections(&tier("db-custom-4-15360")), 500);
        assert_eq!(max_connections(&tier("db-custom-8-30720")), 600);
        assert_eq!(max_connections(&tier("db-custom-16-61440")), 800);
        assert_eq!(max_connections(&tier("db-custom-20-122880")), 1000);
        assert_eq!(max_connections(&tier("db-custom-96-624640")), 1000);
    }

    /// A GKE stack's default server: 2 replicas of 2 workers, pools of 2 + 2.
    fn gke_defaults(engines: u32) -> Budget {
        Budget {
            replicas: 2,
            workers: 2,
            pool_size: 2,
            max_overflow: 2,
            gc: 0,
            engines,
        }
    }

    /// The README's "Connection budget" section writes out the same sum.
    #[test]
    fn the_readme_states_this_sum() {
        let readme = include_str!("../../README.md");
        let sum = format!(
            "(max_replicas + {REPLACEMENT} replacement) × workers × engines × (pool_size + max_overflow) + {MIGRATION} migration + {GC} gc + {RESERVE} reserve"
        );
        assert!(readme.contains(&sum), "README.md does not say {sum}");
    }

    #[test]
    fn the_default_stack_fits_the_default_tier() {
        let budget = gke_defaults(ENGINES_PER_WORKER);
        assert_eq!(budget.total(), 84);
        assert_eq!(
            budget.arithmetic(),
            "(2 replicas + 1 replacement) × 2 workers × 3 engines × (2 pool + 2 overflow) + 2 migration + 10 reserve = 84"
        );
    }

    #[test]
    fn basic_auth_adds_the_user_store_engine_to_every_worker() {
        let budget = gke_defaults(engines_per_worker(true));
        assert_eq!(budget.total(), 108);
        assert_eq!(
            budget.arithmetic(),
            "(2 replicas + 1 replacement) × 2 workers × 4 engines × (2 pool + 2 overflow) + 2 migration + 10 reserve = 108"
        );
        assert_eq!(budget.fitting_pool(100), Some((2, 1)));
        assert_eq!(engines_per_worker(false), ENGINES_PER_WORKER);
        // The default pool with basic auth holds what the default pool holds without it.
        let defaults = Budget {
            max_overflow: default_max_overflow(true),
            ..budget
        };
        let without = Budget {
            max_overflow: default_max_overflow(false),
            engines: engines_per_worker(false),
            ..budget
        };
        assert_eq!(defaults.total(), without.total());
    }

    #[test]
    fn proposals_fit() {
        let budget = Budget {
            replicas: 6,
            workers: 2,
            pool_size: 2,
            max_overflow: 2,
            gc: 0,
            engines: ENGINES_PER_WORKER,
        };
        assert_eq!(budget.total(), 180);
        assert_eq!(budget.fitting_pool(100), Some((1, 1)));
        let (proposed, limit) = budget.fitting_tier(&tier("db-custom-1-3840")).unwrap();
        assert_eq!((proposed.as_str(), limit), ("db-custom-1-6144", 200));
        // 7.5 GiB is more than Cloud SQL allows one CPU (6.5 GiB): the proposal takes 2.
        let big = Budget {
            workers: 4,
            ..budget
        };
        let (proposed, _) = big.fitting_tier(&tier("db-custom-1-3840")).unwrap();
        assert_eq!(proposed.as_str(), "db-custom-2-7680");
        // Shared-core tiers move to the smallest custom tier.
        let small = Budget {
            replicas: 1,
            workers: 1,
            ..budget
        };
        let (proposed, _) = small.fitting_tier(&tier("db-f1-micro")).unwrap();
        assert_eq!(proposed.as_str(), "db-custom-1-3840");
        assert_eq!(small.fitting_pool(25), Some((1, 1)));
        // Nothing fits 50 replicas of 16 workers.
        let huge = Budget {
            replicas: 50,
            workers: 16,
            ..budget
        };
        assert_eq!(huge.fitting_pool(1000), None);
        assert_eq!(huge.fitting_tier(&tier("db-custom-1-3840")), None);
        let one = Budget {
            pool_size: 1,
            max_overflow: 1,
            ..huge
        };
        assert_eq!(one.fitting_replicas(100), None);
        assert_eq!(Budget { workers: 2, ..one }.fitting_replicas(100), Some(6));
    }
}
