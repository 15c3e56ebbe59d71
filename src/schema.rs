//! The JSON Schema of the stack file, generated from the `///` docs of [`crate::raw`].

use schemars::generate::SchemaSettings;

use crate::raw::StackFile;

/// The schema as pretty JSON with a trailing newline.
#[must_use]
pub fn json_schema() -> String {
    let generator = SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<StackFile>();
    let mut json = serde_json::to_string_pretty(&schema).unwrap_or_else(|error| unreachable!("schema JSON: {error}"));
    json.push('\n');
    json
}
