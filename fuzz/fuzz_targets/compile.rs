//! `mlflow_stack::compile` on arbitrary bytes (read as the CLI would, lossily as UTF-8):
//! it never panics, every diagnostic lies on the text and renders, and a bundle comes out
//! exactly when there is no error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mlflow_stack::diag::{self, JsonDiagnostic, Style};
use mlflow_stack::source::Source;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let source = Source::new("fuzz.toml", text);
    let compiled = mlflow_stack::compile(&source);
    let text = source.text();
    for diagnostic in compiled.diagnostics.iter() {
        let span = &diagnostic.span;
        assert!(
            span.start <= span.end && span.end <= text.len(),
            "{diagnostic:?}"
        );
        assert!(
            text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
            "{diagnostic:?}"
        );
        let rendered = diag::render(&source, diagnostic, Style::PLAIN);
        assert!(rendered.contains(diagnostic.code.name()), "{rendered}");
        let _ = JsonDiagnostic::new(&source, diagnostic);
    }
    assert_eq!(
        compiled.bundle.is_some(),
        !compiled.diagnostics.has_errors(),
        "{:?}",
        compiled.diagnostics
    );
});
