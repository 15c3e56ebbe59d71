//! Generative tests: arbitrary bytes and arbitrary TOML documents never panic the compiler
//! and always get well-placed diagnostics; stacks built from generated valid values always
//! compile, their YAML parses back into the Kubernetes types, bash accepts their `infra.sh`
//! and they build; and any string field given a character outside its grammar is rejected
//! with a diagnostic on that value. Case counts stay modest: this runs in every `cargo test`.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use mlflow_stack::diag::{self, Style};
use mlflow_stack::emit::yaml;
use mlflow_stack::model::Tier;
use mlflow_stack::source::Source;
use mlflow_stack::validate::budget::{
    Budget, default_max_overflow, engines_per_worker, max_connections,
};
use mlflow_stack::validate::regions::REGIONS;
use mlflow_stack::{Compiled, compile, write};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{Index, select};

use crate::support::TempDir;

/// Compiles `text` and checks what holds for every input: each diagnostic lies on the text
/// (on character boundaries), carries a listed code and renders; a bundle comes out exactly
/// when there is no error.
fn compile_checked(text: &str) -> Compiled {
    let source = Source::new("generated.toml", text);
    let compiled = compile(&source);
    for diagnostic in compiled.diagnostics.iter() {
        let spans =
            std::iter::once(&diagnostic.span).chain(diagnostic.related.iter().map(|(s, _)| s));
        for span in spans {
            assert!(
                span.start <= span.end && span.end <= text.len(),
                "{diagnostic:?} in {text:?}"
            );
            assert!(
                text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
                "{diagnostic:?} in {text:?}"
            );
        }
        assert!(!diagnostic.message.is_empty(), "{diagnostic:?}");
        let rendered = diag::render(&source, diagnostic, Style::PLAIN);
        assert!(rendered.contains(diagnostic.code.name()), "{rendered}");
    }
    assert_eq!(
        compiled.bundle.is_some(),
        !compiled.diagnostics.has_errors(),
        "{text:?}: {:?}",
        compiled.diagnostics
    );
    compiled
}

use mlflow_stack::init::literal as quote;

/// A key as TOML writes it: bare when it can be, quoted otherwise.
fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare { name.to_owned() } else { quote(name) }
}

/// Strings people and attackers write: real values, shell syntax, escapes, odd Unicode.
const STRINGS: &[&str] = &[
    "gke",
    "local",
    "europe-west3",
    "europe-west3-a",
    "acme-ml-prod",
    "acme-ml-prod-mlflow",
    "1.0.0",
    "latest",
    "POSTGRES_17",
    "iam",
    "gcr",
    "load-balancer",
    "cluster-ip",
    "0.0.0.0/0",
    "203.0.113.0/24",
    "500m",
    "1Gi",
    "3.17.2",
    "db-custom-1-3840",
    "mlflow.example.com",
    "default",
    "kube-system",
    "postgres",
    "$(reboot)",
    "`id`",
    "a;b",
    "a\nb",
    "a\0b",
    "'",
    "\"",
    "\\",
    "",
    " ",
    "\u{202e}",
    "\u{feff}",
    "é",
    "–",
    "𝔘",
    "a\r\nb",
];

#[derive(Debug, Clone)]
enum Value {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Date,
    Array(Vec<Value>),
    Table(Vec<(String, Value)>),
}

impl Value {
    fn toml(&self) -> String {
        match self {
            Self::String(text) => quote(text),
            Self::Integer(int) => int.to_string(),
            Self::Float(float) if float.is_nan() => "nan".into(),
            Self::Float(float) if float.is_infinite() => {
                if *float > 0.0 {
                    "inf".into()
                } else {
                    "-inf".into()
                }
            }
            Self::Float(float) => format!("{float:?}"),
            Self::Boolean(flag) => flag.to_string(),
            Self::Date => "1979-05-27T07:32:00Z".into(),
            Self::Array(items) => {
                let items: Vec<String> = items.iter().map(Self::toml).collect();
                format!("[{}]", items.join(", "))
            }
            Self::Table(entries) => {
                let entries: Vec<String> = entries
                    .iter()
                    .map(|(name, value)| format!("{} = {}", key(name), value.toml()))
                    .collect();
                format!("{{ {} }}", entries.join(", "))
            }
        }
    }
}

fn key_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(mlflow_stack::parse::all_keys().collect::<Vec<_>>()).prop_map(str::to_owned),
        1 => "[a-z_]{1,10}",
        1 => any::<String>(),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        3 => select(STRINGS).prop_map(|s| Value::String(s.to_owned())),
        2 => any::<String>().prop_map(Value::String),
        2 => any::<i64>().prop_map(Value::Integer),
        1 => (0..70_000i64).prop_map(Value::Integer),
        1 => any::<f64>().prop_map(Value::Float),
        1 => any::<bool>().prop_map(Value::Boolean),
        1 => Just(Value::Date),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec((key_name(), inner), 0..3).prop_map(Value::Table),
        ]
    })
}

/// A TOML document with top-level keys and `[table]` sections (names may repeat).
fn document() -> impl Strategy<Value = String> {
    let entries = || vec((key_name(), value()), 0..6);
    (entries(), vec((key_name(), entries()), 0..4)).prop_map(|(top, tables)| {
        let mut text = String::new();
        for (name, value) in top {
            let _ = writeln!(text, "{} = {}", key(&name), value.toml());
        }
        for (table, entries) in tables {
            let _ = writeln!(text, "\n[{}]", key(&table));
            for (name, value) in entries {
                let _ = writeln!(text, "{} = {}", key(&name), value.toml());
            }
        }
        text
    })
}

// ---- valid stacks -------------------------------------------------------------------------

type Entries = Vec<(&'static str, String)>;

fn label() -> impl Strategy<Value = String> {
    "[a-z]([a-z0-9-]{0,8}[a-z0-9])?"
}

fn host() -> BoxedStrategy<String> {
    (any::<bool>(), vec(label(), 1..4), option::of(1..10_000u16))
        .prop_map(|(wildcard, labels, port)| {
            let mut host = labels.join(".");
            if wildcard {
                host = format!("*.{host}");
            }
            if let Some(port) = port {
                let _ = write!(host, ":{port}");
            }
            host
        })
        .boxed()
}

fn cidr() -> BoxedStrategy<String> {
    prop_oneof![
        (any::<u32>(), 0..=32u32).prop_map(|(bits, prefix)| {
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            format!("{}/{prefix}", IpAddr::V4(Ipv4Addr::from(bits & mask)))
        }),
        (any::<u128>(), 0..=128u32).prop_map(|(bits, prefix)| {
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            format!("{}/{prefix}", IpAddr::V6(Ipv6Addr::from(bits & mask)))
        }),
    ]
    .boxed()
}

fn array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|item| quote(item)).collect();
    format!("[{}]", items.join(", "))
}

fn push<T>(entries: &mut Entries, key: &'static str, value: Option<T>, show: impl Fn(T) -> String) {
    if let Some(value) = value {
        entries.push((key, show(value)));
    }
}

fn server() -> impl Strategy<Value = Entries> {
    (
        option::of(select(&["3.5.0", "3.10.1", "3.17.2"][..])),
        option::of(1..=10i64),
        option::of(1..=4i64),
        option::of(prop_oneof!["[1-9][0-9]{0,2}m", "[1-4]", "0\\.[1-9]"]),
        option::of(prop_oneof!["(768|1024|1536|2048)Mi", "[1-8]Gi"]),
        option::of(any::<bool>()),
        option::of(vec(host(), 0..3)),
        (option::of(1..=3i64), option::of(1..=3i64)),
    )
        .prop_map(
            |(version, replicas, workers, cpu, memory, serve, hosts, (pool, overflow))| {
                let mut t = Entries::new();
                push(&mut t, "mlflow_version", version, quote);
                push(&mut t, "replicas", replicas, |n| n.to_string());
                push(&mut t, "workers", workers, |n| n.to_string());
                push(&mut t, "cpu", cpu, |q| quote(&q));
                push(&mut t, "memory", memory, |q| quote(&q));
                push(&mut t, "serve_artifacts", serve, |b| b.to_string());
                push(&mut t, "allowed_hosts", hosts, |h| array(&h));
                push(&mut t, "pool_size", pool, |n| n.to_string());
                push(&mut t, "max_overflow", overflow, |n| n.to_string());
                t
            },
        )
}

/// A tier large enough for the server's connections: the generated one when it fits, else
/// one with 1000 connections (enough for every server this file generates).
fn fit_connection_budget(server: &Entries, database: &mut Entries, gke: bool, basic_auth: bool) {
    let number = |key: &str, default: u32| {
        server
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(default, |(_, v)| v.parse().unwrap())
    };
    let budget = Budget {
        replicas: number("replicas", if gke { 2 } else { 1 }),
        workers: number("workers", 2),
        pool_size: number("pool_size", 2),
        max_overflow: number("max_overflow", default_max_overflow(basic_auth)),
        gc: 0,
        engines: engines_per_worker(basic_auth),
    };
    let tier = database
        .iter()
        .find(|(k, _)| *k == "tier")
        .map_or("db-custom-1-3840".to_owned(), |(_, v)| {
            v.trim_matches('"').to_owned()
        });
    if budget.total() > max_connections(&Tier::parse(&tier).unwrap()) {
        database.retain(|(k, _)| *k != "tier");
        database.push(("tier", quote("db-custom-20-122880")));
    }
}

fn identifier() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,20}".prop_filter("reserved", |name| {
        name != "postgres" && !name.starts_with("pg_") && !name.starts_with("cloudsql")
    })
}

fn database() -> impl Strategy<Value = Entries> {
    (
        option::of("[a-z]([a-z0-9-]{0,30}[a-z0-9])?"),
        option::of(select(
            &[
                "POSTGRES_13",
                "POSTGRES_14",
                "POSTGRES_15",
                "POSTGRES_16",
                "POSTGRES_17",
                "POSTGRES_18",
            ][..],
        )),
        option::of(select(
            &[
                "db-f1-micro",
                "db-g1-small",
                "db-custom-1-3840",
                "db-custom-2-7680",
                "db-custom-4-15360",
                "db-custom-8-30720",
            ][..],
        )),
        option::of(any::<bool>()),
        option::of(10..=65_536i64),
        option::of(identifier()),
        prop_oneof![
            option::of(identifier()).prop_map(|user| (None, user)),
            option::of(identifier()).prop_map(|user| (Some("password"), user)),
            Just((Some("iam"), None)),
        ],
    )
        .prop_map(
            |(instance, version, tier, ha, storage, name, (auth, user))| {
                let mut t = Entries::new();
                push(&mut t, "instance", instance, |v| quote(&v));
                push(&mut t, "version", version, quote);
                push(&mut t, "tier", tier, quote);
                push(&mut t, "high_availability", ha, |b| b.to_string());
                push(&mut t, "storage_gb", storage, |n| n.to_string());
                push(&mut t, "database", name, |v| quote(&v));
                push(&mut t, "auth", auth, quote);
                push(&mut t, "user", user, |v| quote(&v));
                t
            },
        )
}

fn registry() -> impl Strategy<Value = Entries> {
    let repository = "[a-z]([a-z0-9-]{0,20}[a-z0-9])?";
    prop_oneof![
        Just(Entries::new()),
        repository.prop_map(|r| vec![("repository", quote(&r))]),
        repository.prop_map(|r| vec![("kind", quote("artifact-registry")), ("repository", quote(&r))]),
        Just(vec![("kind", quote("gcr"))]),
        "(ghcr\\.io|europe-docker\\.pkg\\.dev/acme|localhost:5000)/[a-z]{1,8}/[a-z]{1,8}:[0-9]\\.[0-9]{1,2}"
            .prop_map(|image| vec![("image", quote(&image))]),
    ]
}

/// `[auth]`: a load balancer always gets one (nothing reachable is open by default).
fn auth() -> impl Strategy<Value = Entries> {
    prop_oneof![
        Just(Entries::new()),
        option::of(select(&["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"][..])).prop_map(
            |permission| {
                let mut t = vec![("kind", quote("basic"))];
                push(&mut t, "default_permission", permission, quote);
                t
            }
        ),
    ]
}

fn expose(gke: bool) -> impl Strategy<Value = Entries> {
    (
        select(&[None, Some("cluster-ip"), Some("load-balancer")][..]),
        option::of(1..=65_535i64),
        vec(cidr(), 0..3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(move |(kind, port, mut allow, static_ip, write_allow)| {
            let load_balancer = kind == Some("load-balancer");
            let mut t = Entries::new();
            push(&mut t, "type", kind, quote);
            push(&mut t, "port", port, |n| n.to_string());
            if load_balancer {
                if gke && allow.is_empty() {
                    allow.push("203.0.113.0/24".into());
                }
                if gke || write_allow {
                    t.push(("allow", array(&allow)));
                }
                if gke {
                    t.push(("static_ip", static_ip.to_string()));
                }
            }
            t
        })
}

#[derive(Debug, Clone)]
struct ValidStack {
    top: Entries,
    tables: Vec<(&'static str, Entries)>,
}

impl ValidStack {
    fn toml(&self) -> String {
        let mut text = String::new();
        for (name, value) in &self.top {
            let _ = writeln!(text, "{name} = {value}");
        }
        for (table, entries) in &self.tables {
            let _ = writeln!(text, "\n[{table}]");
            for (name, value) in entries {
                let _ = writeln!(text, "{name} = {value}");
            }
        }
        text
    }
}

fn valid_stack() -> impl Strategy<Value = ValidStack> {
    any::<bool>().prop_flat_map(|gke| {
        let top = (
            "[a-z][a-z0-9-]{4,28}[a-z0-9]",
            select(REGIONS),
            "[a-z0-9][a-z0-9_-]{1,40}[a-z0-9]".prop_filter("reserved by Google", |b| {
                !b.starts_with("goog") && !b.contains("google")
            }),
            "[A-Za-z0-9_][A-Za-z0-9_.-]{0,30}",
            option::of("[a-z][a-z0-9-]{1,18}[a-z0-9]"),
            option::of(prop_oneof![
                4 => "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?"
                    .prop_filter("reserved", |n| !n.starts_with("kube-")),
                1 => Just("default".to_owned()),
            ]),
            option::of(any::<bool>()),
        );
        let environment_tables = if gke {
            (
                option::of("[a-z]([a-z0-9-]{0,30}[a-z0-9])?"),
                option::of(any::<bool>()),
            )
                .prop_map(|(name, create)| {
                    let mut t = Entries::new();
                    push(&mut t, "name", name, |n| quote(&n));
                    push(&mut t, "create", create, |b| b.to_string());
                    ("cluster", t)
                })
                .boxed()
        } else {
            option::of(
                "[A-Za-z][A-Za-z0-9._-]{0,15}(/[A-Za-z0-9._-]{1,10}){0,2}"
                    .prop_filter("`.` and `..` components are refused", |dir| {
                        dir.split('/').all(|part| part != "." && part != "..")
                    }),
            )
            .prop_map(|dir| {
                let mut t = Entries::new();
                push(&mut t, "dir", dir, |d| quote(&d));
                ("credentials", t)
            })
            .boxed()
        };
        (
            top,
            server(),
            database(),
            registry(),
            expose(gke),
            auth(),
            environment_tables,
        )
            .prop_map(
                move |(
                    (project, region, bucket, tag, name, namespace, shared),
                    server,
                    mut database,
                    registry,
                    expose,
                    mut auth,
                    env,
                )| {
                    let reachable = expose
                        .iter()
                        .any(|(key, value)| *key == "type" && value.contains("load-balancer"));
                    // Basic auth through a load balancer on gke is plain HTTP across the
                    // internet (an error); there the network alone decides who gets in.
                    if reachable && gke {
                        auth = vec![("kind", quote("none"))];
                    } else if reachable && auth.is_empty() {
                        auth.push(("kind", quote("basic")));
                    }
                    let basic_auth = auth
                        .iter()
                        .any(|(key, value)| *key == "kind" && value.contains("basic"));
                    fit_connection_budget(&server, &mut database, gke, basic_auth);
                    let mut top = vec![
                        ("project", quote(&project)),
                        ("region", quote(region)),
                        ("bucket", quote(&bucket)),
                        ("tag", quote(&tag)),
                        ("environment", quote(if gke { "gke" } else { "local" })),
                    ];
                    push(&mut top, "name", name, |n| quote(&n));
                    // `default` is always shared: `namespace_shared = false` next to it is an error.
                    let shared =
                        shared.filter(|&shared| shared || namespace.as_deref() != Some("default"));
                    push(&mut top, "namespace", namespace, |n| quote(&n));
                    push(&mut top, "namespace_shared", shared, |b| b.to_string());
                    let tables = [
                        ("server", server),
                        ("database", database),
                        ("registry", registry),
                        ("expose", expose),
                        ("auth", auth),
                        env,
                    ]
                    .into_iter()
                    .filter(|(_, entries)| !entries.is_empty())
                    .collect();
                    ValidStack { top, tables }
                },
            )
    })
}

// ---- a character outside a field's grammar --------------------------------------------------

/// A string field: where it lives, a valid value, the characters its grammar allows, and
/// the environment it applies to.
#[derive(Debug)]
struct Field {
    path: &'static str,
    valid: &'static str,
    allowed: fn(char) -> bool,
    gke: bool,
}

fn lower_name(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

const FIELDS: &[Field] = &[
    Field {
        path: "project",
        valid: "acme-ml-prod",
        allowed: lower_name,
        gke: true,
    },
    Field {
        path: "region",
        valid: "europe-west3",
        allowed: lower_name,
        gke: true,
    },
    Field {
        path: "bucket",
        valid: "acme-ml-prod-mlflow",
        allowed: |c| lower_name(c) || c == '_' || c == '.',
        gke: true,
    },
    Field {
        path: "tag",
        valid: "1.0.0",
        allowed: |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'),
        gke: true,
    },
    Field {
        path: "name",
        valid: "mlflow",
        allowed: lower_name,
        gke: true,
    },
    Field {
        path: "namespace",
        valid: "mlflow",
        allowed: lower_name,
        gke: true,
    },
    Field {
        path: "server.mlflow_version",
        valid: "3.17.2",
        allowed: |c| c.is_ascii_digit() || c == '.',
        gke: true,
    },
    Field {
        path: "server.cpu",
        valid: "500m",
        allowed: |c| c.is_ascii_digit() || c == '.' || c == 'm',
        gke: true,
    },
    Field {
        path: "server.memory",
        valid: "1Gi",
        allowed: |c| c.is_ascii_digit() || c == '.' || "kMGTi".contains(c),
        gke: true,
    },
    Field {
        path: "server.allowed_hosts",
        valid: "mlflow.example.com",
        allowed: |c| lower_name(c) || matches!(c, '.' | ':' | '*'),
        gke: true,
    },
    Field {
        path: "database.instance",
        valid: "mlflow-db",
        allowed: lower_name,
        gke: true,
    },
    Field {
        path: "database.tier",
        valid: "db-custom-1-3840",
        allowed: lower_name,
        gke: true,
    },
    Field {
        path: "database.database",
        valid: "mlflow",
        allowed: |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
        gke: true,
    },
    Field {
        path: "database.user",
        valid: "mlflow",
        allowed: |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
        gke: true,
    },
    Field {
        path: "registry.repository",
        valid: "mlflow",
        allowed: lower_name,
        gke: true,
    },
    Field {
        path: "registry.image",
        valid: "ghcr.io/acme/mlflow:3.17.2",
        allowed: |c| c.is_ascii_alphanumeric() || "-._/:@".contains(c),
        gke: true,
    },
    Field {
        path: "expose.allow",
        valid: "203.0.113.0/24",
        allowed: |c| c.is_ascii_hexdigit() || matches!(c, '.' | '/' | ':'),
        gke: true,
    },
    Field {
        path: "cluster.name",
        valid: "ml-platform",
        allowed: lower_name,
        gke: true,
    },
    Field {
        path: "credentials.dir",
        valid: ".mlflow_credentials",
        allowed: |c| c.is_ascii_alphanumeric() || "._-/".contains(c),
        gke: false,
    },
];

/// A valid stack with `field` set to `literal` (a TOML string), and the byte range of the
/// literal in the text.
fn stack_with(field: &Field, literal: &str) -> (String, Range<usize>) {
    let top = [
        ("project", "acme-ml-prod"),
        ("region", "europe-west3"),
        ("bucket", "acme-ml-prod-mlflow"),
        ("tag", "1.0.0"),
        ("environment", if field.gke { "gke" } else { "local" }),
    ];
    let mut text = String::new();
    let mut span = 0..0;
    let (table, key) = field.path.split_once('.').unwrap_or(("", field.path));
    let array = matches!(field.path, "server.allowed_hosts" | "expose.allow");
    let mut set = |text: &mut String, key: &str| {
        let _ = write!(text, "{key} = {}", if array { "[" } else { "" });
        span = text.len()..text.len() + literal.len();
        let _ = writeln!(text, "{literal}{}", if array { "]" } else { "" });
    };
    for (name, value) in top {
        if table.is_empty() && name == key {
            set(&mut text, key);
        } else {
            let _ = writeln!(text, "{name} = {}", quote(value));
        }
    }
    if table.is_empty() && !top.iter().any(|(name, _)| *name == key) {
        set(&mut text, key);
    }
    if !table.is_empty() {
        let _ = writeln!(text, "\n[{table}]");
        if field.path == "expose.allow" {
            text.push_str("type = \"load-balancer\"\n");
        }
        set(&mut text, key);
        if field.path == "expose.allow" {
            text.push_str("\n[auth]\nkind = \"none\"\n");
        }
    }
    (text, span)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..600)) {
        compile_checked(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_toml_documents_never_panic(text in document()) {
        compile_checked(&text);
    }

    #[test]
    fn a_character_outside_a_fields_grammar_is_rejected_on_that_value(
        field in select(FIELDS.iter().collect::<Vec<_>>()),
        bad in any::<char>(),
        at in any::<Index>(),
    ) {
        prop_assume!(!(field.allowed)(bad));
        let mut value = field.valid.to_owned();
        value.insert(at.index(value.len() + 1), bad);
        let (text, span) = stack_with(field, &quote(&value));
        let compiled = compile_checked(&text);
        prop_assert!(compiled.bundle.is_none(), "{value:?} in `{}` compiled", field.path);
        let on_value = compiled.diagnostics.iter().any(|d| {
            d.severity == diag::Severity::Error && d.span.start >= span.start && d.span.end <= span.end
        });
        prop_assert!(on_value, "{value:?} in `{}`: no error on the value: {:?}", field.path, compiled.diagnostics);
    }
}

/// The valid value of every field compiles as is (the grammar test starts from them).
#[test]
fn the_valid_field_values_compile() {
    for field in FIELDS {
        let (text, _) = stack_with(field, &quote(field.valid));
        let compiled = compile_checked(&text);
        assert!(
            !compiled.diagnostics.has_errors(),
            "{}: {:?}",
            field.path,
            compiled.diagnostics
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn valid_stacks_compile_parse_back_and_build(stack in valid_stack()) {
        let text = stack.toml();
        let compiled = compile_checked(&text);
        let Some(bundle) = compiled.bundle else {
            return Err(TestCaseError::fail(format!("{text}\n{:?}", compiled.diagnostics)));
        };
        let get = |file: &str| bundle.get(&format!("kubernetes/{file}")).unwrap_or_default().to_owned();
        let deployment = yaml::parse::<Deployment>(&get("deployment.yaml"));
        prop_assert!(deployment.is_ok(), "{text}");
        // The bundle owns its namespace unless it is `default` or marked shared.
        let namespace = deployment.ok().and_then(|d| d.metadata.namespace).unwrap_or_default();
        let shared = stack.top.iter().any(|(key, value)| *key == "namespace_shared" && value == "true");
        let owned = namespace != "default" && !shared;
        match bundle.get("kubernetes/namespace.yaml") {
            Some(namespace) => {
                prop_assert!(owned, "{text}");
                prop_assert!(yaml::parse::<Namespace>(namespace).is_ok(), "{text}");
            }
            None => prop_assert!(!owned, "{text}"),
        }
        prop_assert!(yaml::parse::<ServiceAccount>(&get("serviceaccount.yaml")).is_ok(), "{text}");
        prop_assert!(yaml::parse::<ConfigMap>(&get("configmap.yaml")).is_ok(), "{text}");
        prop_assert!(yaml::parse::<Service>(&get("service.yaml")).is_ok(), "{text}");
        prop_assert!(yaml::parse::<NetworkPolicy>(&get("networkpolicy.yaml")).is_ok(), "{text}");
        if let Some(pdb) = bundle.get("kubernetes/poddisruptionbudget.yaml") {
            prop_assert!(yaml::parse::<PodDisruptionBudget>(pdb).is_ok(), "{text}");
        }
        let script = bundle.get("infra.sh").unwrap_or_default();
        let bash = std::process::Command::new("bash").args(["-n", "-c", script]).output().unwrap();
        prop_assert!(bash.status.success(), "{text}\n{}", String::from_utf8_lossy(&bash.stderr));

        let dir = TempDir::new("generated");
        let out = dir.path().join("bundle");
        prop_assert_eq!(write::write(&bundle, &out).unwrap(), write::Written::Written);
        prop_assert_eq!(write::write(&bundle, &out).unwrap(), write::Written::Unchanged);
    }
}
