//! Stack files saved in a wide Unicode encoding (UTF-16 by Windows Notepad's "Unicode",
//! UTF-32): recognised from the bytes read, so the diagnostic can name the encoding and
//! the conversion, and show the file decoded.

/// A wide Unicode encoding a file was recognised in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wide {
    /// `UTF-16LE`, `UTF-16BE`, `UTF-32LE` or `UTF-32BE`, as iconv names them.
    pub name: &'static str,
    /// The file starts with a byte order mark.
    pub bom: bool,
    /// Bytes per code unit: 2 or 4.
    unit: usize,
    big_endian: bool,
}

impl Wide {
    /// The encoding for `iconv -f`: with a byte order mark, the generic name (iconv reads
    /// the mark and drops it); without, the explicit byte order.
    #[must_use]
    pub fn iconv_from(&self) -> &'static str {
        match (self.bom, self.unit) {
            (true, 2) => "UTF-16",
            (true, _) => "UTF-32",
            (false, _) => self.name,
        }
    }

    /// The text, decoded; an invalid sequence becomes U+FFFD. A byte order mark is kept
    /// (as U+FEFF), so the decoded text has a character where the file has the mark.
    #[must_use]
    pub fn decode(&self, bytes: &[u8]) -> String {
        let chunks = bytes.chunks(self.unit);
        if self.unit == 2 {
            let units = chunks.map(|c| {
                let pair = [c[0], c.get(1).copied().unwrap_or(0)];
                if self.big_endian {
                    u16::from_be_bytes(pair)
                } else {
                    u16::from_le_bytes(pair)
                }
            });
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        } else {
            chunks
                .map(|c| {
                    let mut quad = [0; 4];
                    quad[..c.len()].copy_from_slice(c);
                    let value = if self.big_endian {
                        u32::from_be_bytes(quad)
                    } else {
                        u32::from_le_bytes(quad)
                    };
                    char::from_u32(value).unwrap_or(char::REPLACEMENT_CHARACTER)
                })
                .collect()
        }
    }
}

const fn wide(name: &'static str, bom: bool, unit: usize, big_endian: bool) -> Wide {
    Wide {
        name,
        bom,
        unit,
        big_endian,
    }
}

/// The wide encoding `bytes` are in, when they are not UTF-8: by the byte order mark, or,
/// without one, by the zero bytes that ASCII text (every TOML key) has in UTF-16 and UTF-32.
#[must_use]
pub fn detect(bytes: &[u8]) -> Option<Wide> {
    // UTF-32 LE's mark starts with UTF-16 LE's: test the longer one first.
    let by_mark = [
        (&[0xFF, 0xFE, 0, 0][..], wide("UTF-32LE", true, 4, false)),
        (&[0, 0, 0xFE, 0xFF][..], wide("UTF-32BE", true, 4, true)),
        (&[0xFF, 0xFE][..], wide("UTF-16LE", true, 2, false)),
        (&[0xFE, 0xFF][..], wide("UTF-16BE", true, 2, true)),
    ];
    if let Some((_, found)) = by_mark.iter().find(|(mark, _)| bytes.starts_with(mark)) {
        return Some(*found);
    }
    // Without a mark (such text can be valid UTF-8: ASCII in UTF-16 is ASCII and NULs): the share of zero bytes at each position of a 4-byte group. ASCII in
    // UTF-16 LE is `x 0 x 0`, in UTF-32 LE `x 0 0 0`, and the reverse for big endian.
    let sample = &bytes[..bytes.len().min(4096) / 4 * 4];
    if sample.is_empty() {
        return None;
    }
    let groups = sample.len() / 4;
    let mut zeros = [0usize; 4];
    for group in sample.chunks_exact(4) {
        for (count, byte) in zeros.iter_mut().zip(group) {
            *count += usize::from(*byte == 0);
        }
    }
    let mostly = |i: usize| zeros[i] * 10 >= groups * 9;
    let rarely = |i: usize| zeros[i] * 10 <= groups;
    match (mostly(0), mostly(1), mostly(2), mostly(3)) {
        (false, true, true, true) if rarely(0) => Some(wide("UTF-32LE", false, 4, false)),
        (true, true, true, false) if rarely(3) => Some(wide("UTF-32BE", false, 4, true)),
        (false, true, false, true) if rarely(0) && rarely(2) => {
            Some(wide("UTF-16LE", false, 2, false))
        }
        (true, false, true, false) if rarely(1) && rarely(3) => {
            Some(wide("UTF-16BE", false, 2, true))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "project = \"acme-ml-prod\"\nregion = \"europe-west3\"\n";

    fn encode(text: &str, name: &str, bom: bool) -> Vec<u8> {
        let mut bytes = Vec::new();
        let chars = std::iter::once('\u{feff}')
            .filter(|_| bom)
            .chain(text.chars());
        for c in chars {
            match name {
                "UTF-16LE" | "UTF-16BE" => {
                    let mut buffer = [0u16; 2];
                    for unit in c.encode_utf16(&mut buffer) {
                        bytes.extend(if name == "UTF-16LE" {
                            unit.to_le_bytes()
                        } else {
                            unit.to_be_bytes()
                        });
                    }
                }
                "UTF-32LE" => bytes.extend(u32::from(c).to_le_bytes()),
                _ => bytes.extend(u32::from(c).to_be_bytes()),
            }
        }
        bytes
    }

    #[test]
    fn recognises_every_wide_encoding_with_and_without_a_mark() {
        for name in ["UTF-16LE", "UTF-16BE", "UTF-32LE", "UTF-32BE"] {
            for bom in [true, false] {
                let bytes = encode(&format!("{TEXT}# café ✓\n"), name, bom);
                let found = detect(&bytes).unwrap_or_else(|| panic!("{name} bom={bom}"));
                assert_eq!((found.name, found.bom), (name, bom));
                let decoded = found.decode(&bytes);
                assert_eq!(
                    decoded.trim_start_matches('\u{feff}'),
                    format!("{TEXT}# café ✓\n")
                );
            }
        }
    }

    #[test]
    fn leaves_utf8_and_other_bytes_alone() {
        assert_eq!(detect(TEXT.as_bytes()), None);
        assert_eq!(detect("tag = \"café\"\n".as_bytes()), None);
        assert_eq!(detect(b"tag = \"caf\xe9\"\n"), None);
        assert_eq!(detect(b""), None);
    }

    #[test]
    fn names_the_iconv_conversion() {
        let with = detect(&encode(TEXT, "UTF-16LE", true)).unwrap();
        let without = detect(&encode(TEXT, "UTF-16LE", false)).unwrap();
        assert_eq!(with.iconv_from(), "UTF-16");
        assert_eq!(without.iconv_from(), "UTF-16LE");
    }
}
