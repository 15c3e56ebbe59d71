//! Stage 1: TOML text → [`raw::StackFile`].
//!
//! The document is parsed with `toml`'s recoverable parser, which keeps every key and value
//! with its byte span and goes on after syntax errors. The tree is then walked by hand so
//! that every wrong type, unknown key and duplicate is reported, not only the first.

use toml::Spanned as TomlSpanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::diag::{Diagnostic, Diagnostics};
use crate::raw::{self, Choice, Spanned};
use crate::source::Source;
use crate::suggest;

/// The raw stack file and whether its TOML was well-formed. Validation only runs on a
/// well-formed file: after a syntax error the recovered tree is a guess.
pub struct Parsed {
    pub stack: raw::StackFile,
    pub syntax_ok: bool,
}

pub fn parse(source: &Source, diags: &mut Diagnostics) -> Parsed {
    let (document, errors) = DeTable::parse_recoverable(source.text());
    let syntax_ok = errors.is_empty();
    for error in &errors {
        diags.push(syntax_error(source, error));
    }
    let mut walker = Walker { diags };
    let stack = walker.stack_file(document.get_ref());
    Parsed { stack, syntax_ok }
}

fn syntax_error(source: &Source, error: &toml::de::Error) -> Diagnostic {
    let span = error.span().unwrap_or(0..0);
    let span = if span.is_empty() && span.start < source.text().len() {
        span.start..span.start + 1
    } else {
        span
    };
    let message = error.message().trim().replace('\n', ", ");
    if message.contains("duplicate") {
        Diagnostic::error("duplicate-key", span, "this key or table is defined twice")
            .label("defined again here")
            .help("remove one of the definitions: a key or table may appear only once")
    } else {
        Diagnostic::error("toml-syntax", span, format!("invalid TOML: {}", lowercase_first(&message)))
            .label("here")
            .help("fix the TOML syntax: strings are quoted (`key = \"value\"`), tables are written `[name]`")
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

type Entry<'i> = (&'i TomlSpanned<DeString<'i>>, &'i TomlSpanned<DeValue<'i>>);

struct Walker<'d> {
    diags: &'d mut Diagnostics,
}

/// The keys of each table, for "unknown key" and "did you mean".
const TOP_KEYS: &[&str] = &[
    "project",
    "region",
    "bucket",
    "tag",
    "environment",
    "name",
    "namespace",
    "server",
    "database",
    "registry",
    "expose",
    "cluster",
    "credentials",
];
const SERVER_KEYS: &[&str] = &[
    "mlflow_version",
    "replicas",
    "workers",
    "cpu",
    "memory",
    "serve_artifacts",
    "allowed_hosts",
];
const DATABASE_KEYS: &[&str] = &[
    "instance",
    "version",
    "tier",
    "high_availability",
    "storage_gb",
    "database",
    "user",
    "auth",
];
const REGISTRY_KEYS: &[&str] = &["kind", "repository", "image"];
const EXPOSE_KEYS: &[&str] = &["type", "port", "static_ip", "allow"];
const CLUSTER_KEYS: &[&str] = &["name", "create"];
const CREDENTIALS_KEYS: &[&str] = &["dir"];

impl Walker<'_> {
    fn stack_file(&mut self, table: &DeTable<'_>) -> raw::StackFile {
        let mut stack = raw::StackFile::default();
        for (key, value) in table {
            let entry = (key, value);
            match key.get_ref().as_ref() {
                "project" => stack.project = self.string(entry, ""),
                "region" => stack.region = self.string(entry, ""),
                "bucket" => stack.bucket = self.string(entry, ""),
                "tag" => stack.tag = self.string(entry, ""),
                "environment" => stack.environment = self.choice(entry, ""),
                "name" => stack.name = self.string(entry, ""),
                "namespace" => stack.namespace = self.string(entry, ""),
                "server" => stack.server = self.table(entry, "", Self::server),
                "database" => stack.database = self.table(entry, "", Self::database),
                "registry" => stack.registry = self.table(entry, "", Self::registry),
                "expose" => stack.expose = self.table(entry, "", Self::expose),
                "cluster" => stack.cluster = self.table(entry, "", Self::cluster),
                "credentials" => stack.credentials = self.table(entry, "", Self::credentials),
                _ => self.unknown_key(entry, "", TOP_KEYS),
            }
        }
        stack
    }

    fn server(&mut self, table: &DeTable<'_>) -> raw::Server {
        let mut server = raw::Server::default();
        let p = "server.";
        for entry in table {
            match entry.0.get_ref().as_ref() {
                "mlflow_version" => server.mlflow_version = self.string(entry, p),
                "replicas" => server.replicas = self.integer(entry, p),
                "workers" => server.workers = self.integer(entry, p),
                "cpu" => server.cpu = self.quantity(entry, p),
                "memory" => server.memory = self.quantity(entry, p),
                "serve_artifacts" => server.serve_artifacts = self.boolean(entry, p),
                "allowed_hosts" => server.allowed_hosts = self.strings(entry, p),
                _ => self.unknown_key(entry, p, SERVER_KEYS),
            }
        }
        server
    }

    fn database(&mut self, table: &DeTable<'_>) -> raw::Database {
        let mut database = raw::Database::default();
        let p = "database.";
        for entry in table {
            match entry.0.get_ref().as_ref() {
                "instance" => database.instance = self.string(entry, p),
                "version" => database.version = self.choice(entry, p),
                "tier" => database.tier = self.string(entry, p),
                "high_availability" => database.high_availability = self.boolean(entry, p),
                "storage_gb" => database.storage_gb = self.integer(entry, p),
                "database" => database.database = self.string(entry, p),
                "user" => database.user = self.string(entry, p),
                "auth" => database.auth = self.choice(entry, p),
                _ => self.unknown_key(entry, p, DATABASE_KEYS),
            }
        }
        database
    }

    fn registry(&mut self, table: &DeTable<'_>) -> raw::Registry {
        let mut registry = raw::Registry::default();
        let p = "registry.";
        for entry in table {
            match entry.0.get_ref().as_ref() {
                "kind" => registry.kind = self.choice(entry, p),
                "repository" => registry.repository = self.string(entry, p),
                "image" => registry.image = self.string(entry, p),
                _ => self.unknown_key(entry, p, REGISTRY_KEYS),
            }
        }
        registry
    }

    fn expose(&mut self, table: &DeTable<'_>) -> raw::Expose {
        let mut expose = raw::Expose::default();
        let p = "expose.";
        for entry in table {
            match entry.0.get_ref().as_ref() {
                "type" => expose.kind = self.choice(entry, p),
                "port" => expose.port = self.integer(entry, p),
                "static_ip" => expose.static_ip = self.boolean(entry, p),
                "allow" => expose.allow = self.strings(entry, p),
                _ => self.unknown_key(entry, p, EXPOSE_KEYS),
            }
        }
        expose
    }

    fn cluster(&mut self, table: &DeTable<'_>) -> raw::Cluster {
        let mut cluster = raw::Cluster::default();
        let p = "cluster.";
        for entry in table {
            match entry.0.get_ref().as_ref() {
                "name" => cluster.name = self.string(entry, p),
                "create" => cluster.create = self.boolean(entry, p),
                _ => self.unknown_key(entry, p, CLUSTER_KEYS),
            }
        }
        cluster
    }

    fn credentials(&mut self, table: &DeTable<'_>) -> raw::Credentials {
        let mut credentials = raw::Credentials::default();
        let p = "credentials.";
        for entry in table {
            match entry.0.get_ref().as_ref() {
                "dir" => credentials.dir = self.string(entry, p),
                _ => self.unknown_key(entry, p, CREDENTIALS_KEYS),
            }
        }
        credentials
    }

    fn unknown_key(&mut self, (key, _): Entry<'_>, prefix: &str, known: &[&str]) {
        let name = key.get_ref().as_ref();
        let table = prefix.trim_end_matches('.');
        let scope = if table.is_empty() {
            "at the top level".to_owned()
        } else {
            format!("in `[{table}]`")
        };
        let suggestion = suggest::closest(name, known.iter().copied());
        let help = match (suggestion, table.is_empty()) {
            (Some(_), _) => String::new(),
            (None, true) => format!("the top-level keys are {}", suggest::one_of(known)),
            (None, false) => format!("`[{table}]` takes {}", suggest::one_of(known)),
        };
        let mut diagnostic = Diagnostic::error(
            "unknown-key",
            key.span(),
            format!("unknown key `{name}` {scope}"),
        )
        .label("not a stack file key");
        if !help.is_empty() {
            diagnostic = diagnostic.help(help);
        }
        self.diags.push(diagnostic.suggest(suggestion));
    }

    fn wrong_type(&mut self, (key, value): Entry<'_>, prefix: &str, expected: &str, example: &str) {
        let found = type_name(value.get_ref());
        let help = match value.get_ref() {
            DeValue::String(text)
                if expected == "an integer" && text.trim().parse::<i64>().is_ok() =>
            {
                format!("remove the quotes: `{} = {}`", key.get_ref(), text.trim())
            }
            DeValue::String(text)
                if expected == "a boolean" && matches!(text.as_ref(), "true" | "false") =>
            {
                format!("remove the quotes: `{} = {text}`", key.get_ref())
            }
            DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_)
                if expected == "a string" =>
            {
                format!(
                    "quote it: `{} = \"{}\"`",
                    key.get_ref(),
                    display_scalar(value.get_ref())
                )
            }
            _ => format!("write it like `{example}`"),
        };
        self.diags.push(
            Diagnostic::error(
                "wrong-type",
                value.span(),
                format!(
                    "`{prefix}{}` must be {expected}, found {found}",
                    key.get_ref()
                ),
            )
            .label(format!("this is {found}"))
            .help(help),
        );
    }

    fn string(&mut self, entry: Entry<'_>, prefix: &str) -> Option<Spanned<String>> {
        let (key, value) = entry;
        if let DeValue::String(text) = value.get_ref() {
            Some(Spanned::new(text.to_string(), value.span(), key.span()))
        } else {
            let example = format!("{} = \"…\"", key.get_ref());
            self.wrong_type(entry, prefix, "a string", &example);
            None
        }
    }

    /// A Kubernetes quantity: a string, or a bare number such as `cpu = 1`.
    fn quantity(&mut self, entry: Entry<'_>, prefix: &str) -> Option<Spanned<String>> {
        let (key, value) = entry;
        match value.get_ref() {
            DeValue::Integer(_) | DeValue::Float(_) => Some(Spanned::new(
                display_scalar(value.get_ref()),
                value.span(),
                key.span(),
            )),
            _ => self.string(entry, prefix),
        }
    }

    fn integer(&mut self, entry: Entry<'_>, prefix: &str) -> Option<Spanned<i64>> {
        let (key, value) = entry;
        let parsed = match value.get_ref() {
            DeValue::Integer(int) => i64::from_str_radix(int.as_str(), int.radix()).ok(),
            _ => None,
        };
        if parsed.is_none() {
            if let DeValue::Integer(_) = value.get_ref() {
                self.diags.push(
                    Diagnostic::error(
                        "out-of-range",
                        value.span(),
                        format!("`{prefix}{}` is far too large", key.get_ref()),
                    )
                    .label("does not fit a 64-bit integer")
                    .help("use a realistic value"),
                );
                return None;
            }
            let example = format!("{} = 2", key.get_ref());
            self.wrong_type(entry, prefix, "an integer", &example);
        }
        parsed.map(|int| Spanned::new(int, value.span(), key.span()))
    }

    fn boolean(&mut self, entry: Entry<'_>, prefix: &str) -> Option<Spanned<bool>> {
        let (key, value) = entry;
        if let DeValue::Boolean(flag) = value.get_ref() {
            Some(Spanned::new(*flag, value.span(), key.span()))
        } else {
            let example = format!("{} = true", key.get_ref());
            self.wrong_type(entry, prefix, "a boolean", &example);
            None
        }
    }

    fn strings(&mut self, entry: Entry<'_>, prefix: &str) -> Option<Spanned<Vec<Spanned<String>>>> {
        let (key, value) = entry;
        let DeValue::Array(items) = value.get_ref() else {
            let example = format!("{} = [\"…\"]", key.get_ref());
            self.wrong_type(entry, prefix, "an array of strings", &example);
            return None;
        };
        let mut strings = Vec::with_capacity(items.len());
        for item in items {
            if let DeValue::String(text) = item.get_ref() {
                strings.push(Spanned::new(text.to_string(), item.span(), key.span()));
            } else {
                let found = type_name(item.get_ref());
                self.diags.push(
                    Diagnostic::error(
                        "wrong-type",
                        item.span(),
                        format!(
                            "`{prefix}{}` must hold only strings, found {found}",
                            key.get_ref()
                        ),
                    )
                    .label(format!("this is {found}"))
                    .help("quote every item: `[\"a\", \"b\"]`"),
                );
            }
        }
        Some(Spanned::new(strings, value.span(), key.span()))
    }

    fn choice<T: Choice + PartialEq>(
        &mut self,
        entry: Entry<'_>,
        prefix: &str,
    ) -> Option<Spanned<T>> {
        let text = self.string(entry, prefix)?;
        if let Some(value) = T::from_str(&text.value) {
            return Some(text.map(|_| value));
        }
        let names = T::names();
        let key = entry.0.get_ref();
        self.diags.push(
            Diagnostic::error(
                "unknown-value",
                text.span.clone(),
                format!(
                    "`{prefix}{key}` must be {}, found `{}`",
                    suggest::one_of(&names),
                    text.value.escape_debug()
                ),
            )
            .label(format!("not a valid `{key}`"))
            .help(format!("use one of {}", suggest::one_of(&names)))
            .suggest(suggest::closest(&text.value, names.iter().copied())),
        );
        None
    }

    fn table<T>(
        &mut self,
        entry: Entry<'_>,
        prefix: &str,
        read: impl FnOnce(&mut Self, &DeTable<'_>) -> T,
    ) -> Option<Spanned<T>> {
        let (key, value) = entry;
        if let DeValue::Table(table) = value.get_ref() {
            let parsed = read(self, table);
            Some(Spanned::new(parsed, key.span(), key.span()))
        } else {
            let example = format!("[{}]", key.get_ref());
            self.wrong_type(entry, prefix, "a table", &example);
            None
        }
    }
}

fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn display_scalar(value: &DeValue<'_>) -> String {
    match value {
        DeValue::Integer(int) => int.to_string(),
        DeValue::Float(float) => float.to_string(),
        DeValue::Boolean(flag) => flag.to_string(),
        DeValue::Datetime(datetime) => datetime.to_string(),
        DeValue::String(text) => text.to_string(),
        DeValue::Array(_) | DeValue::Table(_) => String::new(),
    }
}
