//! The JSON Schema of the stack file, generated from the `///` docs of [`crate::raw`].

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
