//! Stage 1: TOML text → [`raw::StackFile`].
//!
//! The document is parsed with `toml`'s recoverable parser, which keeps every key and value
//! with its byte span and goes on after syntax errors. The tree is then walked by hand so
//! that every wrong type, unknown key and duplicate is reported, not only the first.

mod keys;
mod strings;
mod syntax;

use std::collections::{BTreeSet, HashMap};

use toml::Spanned as TomlSpanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::diag::{Code, Diagnostic, Diagnostics, shown};
use crate::raw::{self, Choice, Spanned};
use crate::source::Source;
use crate::suggest;

pub use keys::{REQUIRED_KEYS, all_keys, example, example_of_bare_key};
use keys::{TABLES, TOP_KEYS, choices, hint, is_table, suggest_choice};
pub use strings::char_spans;

/// The raw stack file and what the validator needs to know about how it was written.
pub struct Parsed {
    pub stack: raw::StackFile,
    /// Whether the TOML was well-formed. Validation only runs on a well-formed file: after a
    /// syntax error the recovered tree is a guess. (A duplicate key does not count: the
    /// tree keeps its first definition.)
    pub syntax_ok: bool,
    /// Every key written, as a dotted path (`server.replicas`), even when its value was
    /// rejected: a required key with a bad value is not also "missing".
    pub keys: BTreeSet<String>,
    /// Required top-level keys an unknown-key diagnostic already points to (a typo of the
    /// key, or the key written inside a table): no "missing" diagnostic repeats it.
    pub suggested: BTreeSet<String>,
}

impl Parsed {
    /// Whether `path` (e.g. `expose.type`) was written, whatever its value.
    #[must_use]
    pub fn has(&self, path: &str) -> bool {
        self.keys.contains(path)
    }
}

pub fn parse(source: &Source, diags: &mut Diagnostics) -> Parsed {
    let text = source.text();
    let (document, errors) = DeTable::parse_recoverable(text);
    let mut syntax_ok = true;
    let mut first_syntax_error = usize::MAX;
    let mut error_lines = BTreeSet::new();
    let mut context = syntax::Context::default();
    for error in &errors {
        // Later errors on the same line are the parser recovering from the first one: they
        // are passed over before their diagnostic is made (a file of broken lines has
        // several errors on each).
        let duplicate = error.message().trim_start().starts_with("duplicate key");
        if let Some(span) = error.span()
            && !duplicate
            && error_lines.contains(&source.line_of(span.start.min(text.len())))
        {
            syntax_ok = false;
            continue;
        }
        let diagnostic = syntax::diagnostic(text, error, &mut context);
        if diagnostic.code == Code::DuplicateKey {
            diags.push(diagnostic);
            continue;
        }
        syntax_ok = false;
        // A diagnostic may be placed elsewhere than its error (a dotted key too deep).
        let line = source.line_of(diagnostic.span.start.min(text.len()));
        if error_lines.insert(line) {
            first_syntax_error = first_syntax_error.min(diagnostic.span.start);
            diags.push(diagnostic);
        }
    }
    let mut walker = Walker {
        text,
        diags: Vec::new(),
        keys: BTreeSet::new(),
        suggested: BTreeSet::new(),
        choices: HashMap::new(),
    };
    let stack = walker.stack_file(document.get_ref());
    // After a syntax error the recovered tree is a guess: what it says about the rest of
    // the file (a key "outside" a table whose header did not parse) would mislead.
    for diagnostic in walker.diags {
        if diagnostic.span.start < first_syntax_error {
            diags.push(diagnostic);
        }
    }
    Parsed {
        stack,
        syntax_ok,
        keys: walker.keys,
        suggested: walker.suggested,
    }
}

type Entry<'i> = (&'i TomlSpanned<DeString<'i>>, &'i TomlSpanned<DeValue<'i>>);

struct Walker<'t> {
    text: &'t str,
    diags: Vec<Diagnostic>,
    keys: BTreeSet<String>,
    suggested: BTreeSet<String>,
    /// The list of a table's keys for an unknown-key help, made once per table: a file of
    /// 100,000 unknown keys would otherwise format it 100,000 times.
    choices: HashMap<String, String>,
}

impl Walker<'_> {
    fn record(&mut self, prefix: &str, key: &TomlSpanned<DeString<'_>>) {
        self.keys.insert(format!("{prefix}{}", key.get_ref()));
    }

    /// The value as written in the file.
    fn literal(&self, value: &TomlSpanned<DeValue<'_>>) -> &str {
        self.text.get(value.span()).unwrap_or_default().trim()
    }

    fn stack_file(&mut self, table: &DeTable<'_>) -> raw::StackFile {
        let mut stack = raw::StackFile::default();
        for entry in table {
            self.record("", entry.0);
            match entry.0.get_ref().as_ref() {
                "project" => stack.project = self.string(entry, ""),
                "region" => stack.region = self.string(entry, ""),
                "bucket" => stack.bucket = self.string(entry, ""),
                "tag" => stack.tag = self.string(entry, ""),
                "environment" => stack.environment = self.choice(entry, ""),
                "name" => stack.name = self.string(entry, ""),
                "namespace" => stack.namespace = self.string(entry, ""),
                "namespace_shared" => stack.namespace_shared = self.boolean(entry, ""),
                "server" => stack.server = self.table(entry, "", Self::server),
                "database" => stack.database = self.table(entry, "", Self::database),
                "registry" => stack.registry = self.table(entry, "", Self::registry),
                "expose" => stack.expose = self.table(entry, "", Self::expose),
                "auth" => stack.auth = self.table(entry, "", Self::auth),
                "cluster" => stack.cluster = self.table(entry, "", Self::cluster),
                "gc" => stack.gc = self.table(entry, "", Self::gc),
                "credentials" => stack.credentials = self.table(entry, "", Self::credentials),
                "encryption" => stack.encryption = self.table(entry, "", Self::encryption),
                _ => self.unknown_key(entry, ""),
            }
        }
        stack
    }

    fn server(&mut self, table: &DeTable<'_>) -> raw::Server {
        let mut server = raw::Server::default();
        let p = "server.";
        for entry in table {
            self.record(p, entry.0);
            match entry.0.get_ref().as_ref() {
                "mlflow_version" => server.mlflow_version = self.string(entry, p),
                "replicas" => server.replicas = self.integer(entry, p),
                "max_replicas" => server.max_replicas = self.integer(entry, p),
                "workers" => server.workers = self.integer(entry, p),
                "cpu" => server.cpu = self.quantity(entry, p),
                "memory" => server.memory = self.quantity(entry, p),
                "tmp_size" => server.tmp_size = self.quantity(entry, p),
                "serve_artifacts" => server.serve_artifacts = self.boolean(entry, p),
                "allowed_hosts" => server.allowed_hosts = self.strings(entry, p),
                "metrics" => server.metrics = self.boolean(entry, p),
                "packages" => server.packages = self.strings(entry, p),
                "pool_size" => server.pool_size = self.integer(entry, p),
                "max_overflow" => server.max_overflow = self.integer(entry, p),
                _ => self.unknown_key(entry, p),
            }
        }
        server
    }

    fn database(&mut self, table: &DeTable<'_>) -> raw::Database {
        let mut database = raw::Database::default();
        let p = "database.";
        for entry in table {
            self.record(p, entry.0);
            match entry.0.get_ref().as_ref() {
                "instance" => database.instance = self.string(entry, p),
                "version" => database.version = self.choice(entry, p),
                "tier" => database.tier = self.string(entry, p),
                "high_availability" => database.high_availability = self.boolean(entry, p),
                "storage_gb" => database.storage_gb = self.integer(entry, p),
                "database" => database.database = self.string(entry, p),
                "user" => database.user = self.string(entry, p),
                "auth" => database.auth = self.choice(entry, p),
                "ip" => database.ip = self.choice(entry, p),
                "create_peering" => database.create_peering = self.boolean(entry, p),
                _ => self.unknown_key(entry, p),
            }
        }
        database
    }

    fn registry(&mut self, table: &DeTable<'_>) -> raw::Registry {
        let mut registry = raw::Registry::default();
        let p = "registry.";
        for entry in table {
            self.record(p, entry.0);
            match entry.0.get_ref().as_ref() {
                "kind" => registry.kind = self.choice(entry, p),
                "repository" => registry.repository = self.string(entry, p),
                "image" => registry.image = self.string(entry, p),
                _ => self.unknown_key(entry, p),
            }
        }
        registry
    }

    fn expose(&mut self, table: &DeTable<'_>) -> raw::Expose {
        let mut expose = raw::Expose::default();
        let p = "expose.";
        for entry in table {
            self.record(p, entry.0);
            match entry.0.get_ref().as_ref() {
                "type" => expose.kind = self.choice(entry, p),
                "port" => expose.port = self.integer(entry, p),
                "static_ip" => expose.static_ip = self.boolean(entry, p),
                "allow" => expose.allow = self.strings(entry, p),
                "host" => expose.host = self.string(entry, p),
                "scope" => expose.scope = self.choice(entry, p),
                "proxy_subnet" => expose.proxy_subnet = self.string(entry, p),
                "global_access" => expose.global_access = self.boolean(entry, p),
                "waf" => expose.waf = self.strings(entry, p),
                "rate_limit" => expose.rate_limit = self.integer(entry, p),
                _ => self.unknown_key(entry, p),
            }
        }
        expose
    }

    fn auth(&mut self, table: &DeTable<'_>) -> raw::Auth {
        let mut auth = raw::Auth::default();
        let p = "auth.";
        for entry in table {
            self.record(p, entry.0);
            match entry.0.get_ref().as_ref() {
                "kind" => auth.kind = self.choice(entry, p),
                "default_permission" => auth.default_permission = self.choice(entry, p),
                "members" => auth.members = self.strings(entry, p),
                "admins" => auth.admins = self.strings(entry, p),
                "oauth_client_id" => auth.oauth_client_id = self.string(entry, p),
                _ => self.unknown_key(entry, p),
            }
        }
        auth
    }

    fn cluster(&mut self, table: &DeTable<'_>) -> raw::Cluster {
        let mut cluster = raw::Cluster::default();
        let p = "cluster.";
        for entry in table {
            self.record(p, entry.0);
            match entry.0.get_ref().as_ref() {
                "name" => cluster.name = self.string(entry, p),
                "location" => cluster.location = self.string(entry, p),
                "create" => cluster.create = self.boolean(entry, p),
                "context" => cluster.context = self.string(entry, p),
                _ => self.unknown_key(entry, p),
            }
        }
        cluster
    }

    fn gc(&mut self, table: &DeTable<'_>) -> raw::Gc {
        let mut gc = raw::Gc::default();
        let p = "gc.";
        for entry in table {
            self.record(p, entry.0);
            match entry.0.get_ref().as_ref() {
                "schedule" => gc.schedule = self.string(entry, p),
                "older_than" => gc.older_than = self.string(entry, p),
                _ => self.unknown_key(entry, p),
            }
        }
        gc
    }

    fn credentials(&mut self, table: &DeTable<'_>) -> raw::Credentials {
        let mut credentials = raw::Credentials::default();
        let p = "credentials.";
        for entry in table {
            self.record(p, entry.0);
            match entry.0.get_ref().as_ref() {
                "dir" => credentials.dir = self.string(entry, p),
                _ => self.unknown_key(entry, p),
            }
        }
        credentials
    }

    fn encryption(&mut self, table: &DeTable<'_>) -> raw::Encryption {
        let mut encryption = raw::Encryption::default();
        let p = "encryption.";
        for entry in table {
            self.record(p, entry.0);
            match entry.0.get_ref().as_ref() {
                "kms_key" => encryption.kms_key = self.string(entry, p),
                _ => self.unknown_key(entry, p),
            }
        }
        encryption
    }

    fn unknown_key(&mut self, (key, _): Entry<'_>, prefix: &str) {
        let name = key.get_ref().as_ref();
        let table = prefix.trim_end_matches('.');
        let known = TABLES
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(TOP_KEYS, |(_, keys)| *keys);
        let (message, label) = if table.is_empty() {
            (
                format!("unknown key `{}` at the top level", shown(name)),
                "not a stack file key".to_owned(),
            )
        } else {
            (
                format!("unknown key `{}` in `[{table}]`", shown(name)),
                format!("not a key of `[{table}]`"),
            )
        };
        let homes: Vec<&str> = TABLES
            .iter()
            .filter(|(t, keys)| *t != table && keys.contains(&name))
            .map(|(t, _)| *t)
            .collect();
        let suggestion = suggest::closest(name, known.iter().copied());
        let help = if let Some(hint) = hint(table, name) {
            hint.to_owned()
        } else if !table.is_empty() && TOP_KEYS.contains(&name) && !is_table(name) {
            self.suggested.insert(name.to_owned());
            format!(
                "`{name}` is a top-level key: move it above the first `[table]` header (every key \
                 after `[{table}]` belongs to `[{table}]`)"
            )
        } else if let Some(home) = homes.first() {
            if table.is_empty() {
                format!("`{name}` belongs in `[{home}]`: write it after a `[{home}]` header")
            } else {
                format!("`{name}` belongs in `[{home}]`, not `[{table}]`")
            }
        } else if let Some(suggestion) = suggestion {
            if table.is_empty() && REQUIRED_KEYS.contains(&suggestion) {
                self.suggested.insert(suggestion.to_owned());
            }
            format!("did you mean `{suggestion}`?")
        } else {
            self.choices
                .entry(table.to_owned())
                .or_insert_with(|| {
                    if table.is_empty() {
                        format!("the top-level keys are {}", suggest::one_of(known))
                    } else {
                        format!("`[{table}]` takes {}", suggest::one_of(known))
                    }
                })
                .clone()
        };
        self.diags.push(
            Diagnostic::error(Code::UnknownKey, key.span(), message)
                .label(label)
                .help(help),
        );
    }

    fn wrong_type(&mut self, (key, value): Entry<'_>, prefix: &str, expected: &str) {
        let name = key.get_ref().as_ref();
        let path = format!("{prefix}{name}");
        let literal = shown(self.literal(value));
        // An array of tables spans its first `[[header]]`.
        let array_of_tables =
            matches!(value.get_ref(), DeValue::Array(_)) && self.literal(value).starts_with("[[");
        let found = if array_of_tables {
            "an array of tables"
        } else {
            type_name(value.get_ref())
        };
        let help = match value.get_ref() {
            _ if expected == "a table" && array_of_tables => format!(
                "write `[{name}]` with single brackets: `[[{name}]]` starts an array of tables, and a \
                 stack has one `[{name}]`"
            ),
            _ if expected == "a table" => {
                format!("`{name}` is a table: write its settings after a `[{name}]` header")
            }
            DeValue::String(text)
                if expected == "an integer" && text.trim().parse::<i64>().is_ok() =>
            {
                format!("remove the quotes: `{name} = {}`", text.trim())
            }
            DeValue::String(text)
                if expected == "a boolean"
                    && matches!(text.trim().to_ascii_lowercase().as_str(), "true" | "false") =>
            {
                format!(
                    "remove the quotes: `{name} = {}`",
                    text.trim().to_ascii_lowercase()
                )
            }
            DeValue::Integer(_)
            | DeValue::Float(_)
            | DeValue::Boolean(_)
            | DeValue::Datetime(_)
                if expected == "a string" =>
            {
                format!("quote it: `{name} = \"{literal}\"`")
            }
            DeValue::String(_) if expected == "an array of strings" => {
                format!("put it in brackets: `{name} = [{literal}]`")
            }
            DeValue::Float(_) if expected == "an integer" => {
                format!("write a whole number, e.g. `{name} = {}`", example(&path))
            }
            _ => format!("write it like `{name} = {}`", example(&path)),
        };
        self.diags.push(
            Diagnostic::error(
                Code::WrongType,
                value.span(),
                format!("`{path}` must be {expected}, found {found}"),
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
            self.wrong_type(entry, prefix, "a string");
            None
        }
    }

    /// A Kubernetes quantity: a string, or a bare number such as `cpu = 1`.
    fn quantity(&mut self, entry: Entry<'_>, prefix: &str) -> Option<Spanned<String>> {
        let (key, value) = entry;
        match value.get_ref() {
            DeValue::Integer(_) | DeValue::Float(_) => Some(Spanned::new(
                self.literal(value).replace('_', ""),
                value.span(),
                key.span(),
            )),
            _ => self.string(entry, prefix),
        }
    }

    /// An integer; one too large for 64 bits saturates, and the range rule of its field
    /// reports it as written.
    fn integer(&mut self, entry: Entry<'_>, prefix: &str) -> Option<Spanned<i64>> {
        let (key, value) = entry;
        let DeValue::Integer(int) = value.get_ref() else {
            self.wrong_type(entry, prefix, "an integer");
            return None;
        };
        let parsed = i64::from_str_radix(int.as_str(), int.radix()).unwrap_or(
            if int.as_str().starts_with('-') {
                i64::MIN
            } else {
                i64::MAX
            },
        );
        Some(Spanned::new(parsed, value.span(), key.span()))
    }

    fn boolean(&mut self, entry: Entry<'_>, prefix: &str) -> Option<Spanned<bool>> {
        let (key, value) = entry;
        if let DeValue::Boolean(flag) = value.get_ref() {
            Some(Spanned::new(*flag, value.span(), key.span()))
        } else {
            self.wrong_type(entry, prefix, "a boolean");
            None
        }
    }

    fn strings(&mut self, entry: Entry<'_>, prefix: &str) -> Option<Spanned<Vec<Spanned<String>>>> {
        let (key, value) = entry;
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(entry, prefix, "an array of strings");
            return None;
        };
        let mut strings = Vec::with_capacity(items.len());
        for item in items {
            if let DeValue::String(text) = item.get_ref() {
                strings.push(Spanned::new(text.to_string(), item.span(), key.span()));
            } else {
                let found = type_name(item.get_ref());
                let literal = shown(self.literal(item));
                let help = match item.get_ref() {
                    DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) => {
                        format!("quote it: `\"{literal}\"`")
                    }
                    _ => format!(
                        "write every item as a quoted string: `{} = {}`",
                        key.get_ref(),
                        example(&format!("{prefix}{}", key.get_ref()))
                    ),
                };
                self.diags.push(
                    Diagnostic::error(
                        Code::WrongType,
                        item.span(),
                        format!(
                            "`{prefix}{}` must hold only strings, found {found}",
                            key.get_ref()
                        ),
                    )
                    .label(format!("this is {found}"))
                    .help(help),
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
        let path = format!("{prefix}{}", entry.0.get_ref());
        let (suggestion, note) = suggest_choice(&path, &text.value, &names);
        let help = match (suggestion, note) {
            (Some(suggestion), Some(note)) => format!("did you mean `{suggestion}`? {note}"),
            (Some(suggestion), None) => format!("did you mean `{suggestion}`?"),
            (None, Some(note)) => note.to_owned(),
            (None, None) => format!("use {}", choices(&names)),
        };
        self.diags.push(
            Diagnostic::error(
                Code::UnknownValue,
                text.span.clone(),
                format!(
                    "`{path}` must be {}, not `{}`",
                    choices(&names),
                    shown(&text.value)
                ),
            )
            .label(format!("not a valid `{}`", entry.0.get_ref()))
            .help(help),
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
            self.wrong_type(entry, prefix, "a table");
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
