//! The JSON Schema of the stack file, generated from the `///` docs of [`crate::raw`].

use std::fmt::Write as _;

use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::raw::StackFile;

/// The schema as pretty JSON with a trailing newline.
#[must_use]
pub fn json_schema() -> String {
    let generator = SchemaSettings::draft07().into_generator();
    let mut schema = generator.into_root_schema_for::<StackFile>().to_value();
    drop_null(&mut schema);
    let mut json = serde_json::to_string_pretty(&schema)
        .unwrap_or_else(|error| unreachable!("schema JSON: {error}"));
    json.push('\n');
    json
}

/// TOML has no null: an optional key is absent, never `null`, so the `null` alternatives
/// schemars gives `Option` fields are removed.
fn drop_null(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(any_of)) = map.get_mut("anyOf") {
                any_of.retain(|s| s.get("type").is_none_or(|t| t != "null"));
                if any_of.len() == 1
                    && let Some(Value::Object(only)) = any_of.pop()
                {
                    map.remove("anyOf");
                    for (key, inner) in only {
                        map.entry(key).or_insert(inner);
                    }
                }
            }
            map.values_mut().for_each(drop_null);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}

/// The stack file reference as a Markdown table, generated from the schema so that the
/// README cannot drift from the code (a test compares them).
#[must_use]
pub fn reference_markdown() -> String {
    let schema: Value = serde_json::from_str(&json_schema()).unwrap_or_default();
    let mut out = String::from("| key | type | description |\n|---|---|---|\n");
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|keys| keys.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    rows(&schema, &schema, "", &required, &mut out);
    out
}

fn rows(root: &Value, object: &Value, prefix: &str, required: &[&str], out: &mut String) {
    let Some(properties) = object["properties"].as_object() else {
        return;
    };
    let mut keys: Vec<&String> = properties.keys().collect();
    // Scalars first, then tables, each in the order of the file format.
    keys.sort_by_key(|key| (is_table(root, &properties[*key]), order(key)));
    for key in keys {
        let property = &properties[key];
        let path = format!("{prefix}{key}");
        let description = property["description"]
            .as_str()
            .unwrap_or_default()
            .replace('\n', " ");
        if let Some(table) = resolve(root, property).filter(|t| t["properties"].is_object()) {
            let _ = writeln!(out, "| `[{path}]` | table | {description} |");
            rows(root, table, &format!("{path}."), &[], out);
        } else {
            let kind = type_name(root, property);
            let mark = if required.contains(&key.as_str()) {
                " **(required)**"
            } else {
                ""
            };
            let _ = writeln!(out, "| `{path}` | {kind} | {description}{mark} |");
        }
    }
}

fn order(key: &str) -> usize {
    crate::parse::all_keys()
        .position(|k| k == key)
        .unwrap_or(usize::MAX)
}

fn resolve<'a>(root: &'a Value, property: &'a Value) -> Option<&'a Value> {
    match property["$ref"].as_str() {
        Some(reference) => reference
            .strip_prefix("#/definitions/")
            .map(|name| &root["definitions"][name]),
        None => Some(property),
    }
}

fn is_table(root: &Value, property: &Value) -> bool {
    resolve(root, property).is_some_and(|t| t["properties"].is_object())
}

fn type_name(root: &Value, property: &Value) -> String {
    let resolved = resolve(root, property).unwrap_or(property);
    if let Some(choices) = resolved["oneOf"]
        .as_array()
        .or_else(|| resolved["enum"].as_array())
    {
        let names: Vec<String> = choices
            .iter()
            .filter_map(|c| {
                c.as_str()
                    .or_else(|| c["const"].as_str())
                    .or_else(|| c["enum"][0].as_str())
            })
            .map(|c| format!("`\"{c}\"`"))
            .collect();
        return names.join(" \\| ");
    }
    match resolved["type"].as_str() {
        Some("array") => "array of strings".into(),
        Some(kind) => kind.into(),
        None => "value".into(),
    }
}
