//! POSIX shell quoting: the one function every value passes through on its way into
//! `infra.sh` and the Dockerfile.

/// Quotes `value` as one shell word. Words made only of characters no shell treats
/// specially stay bare for readability; anything else is single-quoted, with embedded
/// single quotes written `'\''`.
#[must_use]
pub fn quote(value: &str) -> String {
    let bare = !value.is_empty()
        && value.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'_' | b'.' | b'/' | b':' | b'@' | b'%' | b'+' | b','
                )
        })
        && !value.starts_with('-');
    if bare {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_what_a_shell_would_interpret() {
        assert_eq!(quote("acme-ml-prod"), "acme-ml-prod");
        assert_eq!(quote("gs://bucket/artifacts"), "gs://bucket/artifacts");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("localhost:*"), "'localhost:*'");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("`id`;\n"), "'`id`;\n'");
        assert_eq!(quote("-rf"), "'-rf'");
        assert_eq!(quote("~root"), "'~root'");
    }
}
