//! Every YAML file of the bundle is written here, in one pass over the typed values: a
//! [`serde::Serializer`] that writes block-style YAML straight into a `String`, deciding
//! each scalar's style once.
//!
//! kubectl and every Go client read YAML 1.1 (`sigs.k8s.io/yaml`, a yaml.v2 fork), where
//! `yes`, `on`, `n`, `1:20`, `1_000` or `2001-12-14` are not strings; YAML 1.2 readers
//! resolve `true`, `null` or `0x1F`. So every string that a YAML 1.1 or 1.2 reader would
//! resolve to anything but a string ([`resolves_to_non_string`]) is quoted. The layout is
//! libyaml's (the emitter behind `serde_yaml`, which this module replaced) with an indent of
//! two and no line width: block mappings, sequences at their key's indent, `{}` and `[]`
//! for empty collections, `|` blocks for multi-line strings, single quotes when a plain
//! scalar would be misread, double quotes (with escapes) when single quotes cannot hold the
//! string.
//!
//! Parsing ([`parse`]) still goes through `serde_yaml`: only tests read YAML back.

use std::fmt::Write as _;

use serde::Serialize;
use serde::ser::{self, Impossible};

/// One YAML document with a comment header.
#[must_use]
pub fn document<T: Serialize + ?Sized>(header: &str, value: &T) -> String {
    let mut emitter = Emitter::new(String::with_capacity(2048));
    emitter.out.push_str("# ");
    emitter.out.push_str(header);
    emitter.out.push('\n');
    // Serializing plain data structures (strings, maps, numbers) cannot fail.
    value
        .serialize(&mut emitter)
        .unwrap_or_else(|error| unreachable!("YAML serialization: {error}"));
    emitter.finish()
}

/// Parses YAML back into a typed value (tests and `--check` tooling).
pub fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_yaml::from_str(text).map_err(|error| error.to_string())
}

/// A serialization error: only a value YAML has no untagged form for (an enum variant with
/// data, a map key that is not a scalar), which no type of the bundle has.
#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// Spaces per level of nesting.
const INDENT: i32 = 2;

/// A key longer than this (in bytes) is written as an explicit `? key` entry, as libyaml does.
const MAX_SIMPLE_KEY: usize = 128;

/// The style a scalar asks for; [`Emitter::scalar`] falls back to a quoted one when the
/// text cannot be written that way.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// Block-style YAML writer with libyaml's layout rules: `column`, `whitespace` and
/// `indention` describe the end of the text so far; `indent` is the current block's.
struct Emitter {
    out: String,
    column: usize,
    indent: i32,
    indents: Vec<i32>,
    whitespace: bool,
    indention: bool,
    /// Where the next node goes: a mapping value (or key), and a simple `key:` position.
    mapping_context: bool,
    simple_key_context: bool,
    /// The next scalar is a mapping key.
    key_pending: bool,
    /// The last key was written as `key:` rather than `? key`.
    simple_key: bool,
    scratch: String,
}

impl Emitter {
    fn new(out: String) -> Self {
        Self {
            out,
            column: 0,
            indent: -1,
            indents: Vec::with_capacity(16),
            whitespace: true,
            indention: true,
            mapping_context: false,
            simple_key_context: false,
            key_pending: false,
            simple_key: false,
            scratch: String::new(),
        }
    }

    fn finish(mut self) -> String {
        self.write_indent();
        self.out
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn write_char(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn write_indent(&mut self) {
        let indent = usize::try_from(self.indent).unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.out.push(' ');
            self.column += 1;
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.out.push(' ');
            self.column += 1;
        }
        self.out.push_str(indicator);
        self.column += indicator.len();
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { INDENT } else { 0 };
        } else if !indentless {
            self.indent += INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn context(&mut self, mapping: bool, simple_key: bool) {
        self.mapping_context = mapping;
        self.simple_key_context = simple_key;
    }

    /// An empty collection, in flow style: `{}` or `[]`.
    fn empty(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.write_indicator(close, false, false, false);
    }

    /// Writes one scalar in `requested` style, or the first of single and double quotes
    /// that can hold it.
    fn scalar(&mut self, value: &str, requested: Style) {
        let analysis = Analysis::of(value);
        if self.key_pending {
            self.key_pending = false;
            self.simple_key = !analysis.multiline && value.len() <= MAX_SIMPLE_KEY;
            if self.simple_key {
                self.context(true, true);
            } else {
                self.write_indicator("?", true, false, true);
                self.context(true, false);
            }
        }
        let simple_key = self.simple_key_context;
        let mut style = requested;
        if simple_key && analysis.multiline {
            style = Style::DoubleQuoted;
        }
        if style == Style::Plain && (!analysis.plain_allowed || (value.is_empty() && simple_key)) {
            style = Style::SingleQuoted;
        }
        if style == Style::SingleQuoted && !analysis.single_quoted_allowed {
            style = Style::DoubleQuoted;
        }
        if style == Style::Literal && (!analysis.block_allowed || simple_key) {
            style = Style::DoubleQuoted;
        }
        self.increase_indent(true, false);
        match style {
            Style::Plain => self.write_plain(value),
            Style::SingleQuoted => self.write_single_quoted(value),
            Style::DoubleQuoted => self.write_double_quoted(value),
            Style::Literal => self.write_literal(value),
        }
        self.pop_indent();
    }

    fn write_plain(&mut self, value: &str) {
        if !self.whitespace && !value.is_empty() {
            self.out.push(' ');
            self.column += 1;
        }
        // Plain scalars hold no line break, and lines are never folded.
        self.out.push_str(value);
        self.column += value.len();
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single_quoted(&mut self, value: &str) {
        self.write_indicator("'", true, false, false);
        let mut breaks = false;
        for c in value.chars() {
            if c == ' ' {
                self.write_char(c);
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.write_char('\'');
                }
                self.write_char(c);
                self.indention = false;
                breaks = false;
            }
        }
        if breaks {
            self.write_indent();
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, value: &str) {
        self.write_indicator("\"", true, false, false);
        for c in value.chars() {
            if !is_printable(c) || is_break(c) || c == '"' || c == '\\' {
                self.out.push('\\');
                let short = match c {
                    '\0' => Some('0'),
                    '\u{7}' => Some('a'),
                    '\u{8}' => Some('b'),
                    '\t' => Some('t'),
                    '\n' => Some('n'),
                    '\u{b}' => Some('v'),
                    '\u{c}' => Some('f'),
                    '\r' => Some('r'),
                    '\u{1b}' => Some('e'),
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    '\u{85}' => Some('N'),
                    '\u{a0}' => Some('_'),
                    '\u{2028}' => Some('L'),
                    '\u{2029}' => Some('P'),
                    _ => None,
                };
                if let Some(short) = short {
                    self.out.push(short);
                } else {
                    let code = u32::from(c);
                    let _ = match code {
                        0..=0xFF => write!(self.out, "x{code:02X}"),
                        0x100..=0xFFFF => write!(self.out, "u{code:04X}"),
                        _ => write!(self.out, "U{code:08X}"),
                    };
                }
                // The column only matters at the start of a line.
                self.column += 2;
            } else {
                self.write_char(c);
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, value: &str) {
        self.write_indicator("|", true, false, false);
        if value.starts_with([' ', '\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']) {
            self.write_indicator("2", false, false, false);
        }
        let mut tail = value.chars().rev();
        match (tail.next(), tail.next()) {
            (Some(last), _) if !is_break(last) => self.write_indicator("-", false, false, false),
            (Some(_), None) => self.write_indicator("+", false, false, false),
            (Some(_), Some(before)) if is_break(before) => {
                self.write_indicator("+", false, false, false);
            }
            _ => {}
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in value.chars() {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.write_char(c);
                self.indention = false;
                breaks = false;
            }
        }
    }

    fn string(&mut self, value: &str) {
        let style = if value.contains('\n') {
            Style::Literal
        } else if resolves_to_non_string(value) {
            Style::SingleQuoted
        } else {
            Style::Plain
        };
        self.scalar(value, style);
    }

    fn display(&mut self, value: impl std::fmt::Display) {
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        let _ = write!(text, "{value}");
        self.scalar(&text, Style::Plain);
        self.scratch = text;
    }
}

/// What libyaml's scalar analysis finds out about a string in block context.
struct Analysis {
    multiline: bool,
    plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

impl Analysis {
    fn of(value: &str) -> Self {
        // Most scalars are names, versions, paths and numbers: nothing to find in them.
        if !value.starts_with(['-', '.'])
            && !value.is_empty()
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
        {
            return Self {
                multiline: false,
                plain_allowed: true,
                single_quoted_allowed: true,
                block_allowed: true,
            };
        }
        if value.is_empty() {
            return Self {
                multiline: false,
                plain_allowed: true,
                single_quoted_allowed: true,
                block_allowed: false,
            };
        }
        let mut indicators = value.starts_with("---") || value.starts_with("...");
        let (mut line_breaks, mut special) = (false, false);
        let (mut leading_space, mut leading_break) = (false, false);
        let (mut trailing_space, mut trailing_break) = (false, false);
        let (mut break_space, mut space_break) = (false, false);
        let (mut previous_space, mut previous_break) = (false, false);
        let mut preceded_by_whitespace = true;
        let mut chars = value.chars();
        let mut current = chars.next();
        let mut first = true;
        while let Some(c) = current {
            let next = chars.next();
            let followed_by_whitespace = next.is_none_or(is_blankz);
            if first {
                if matches!(
                    c,
                    '#' | ','
                        | '['
                        | ']'
                        | '{'
                        | '}'
                        | '&'
                        | '*'
                        | '!'
                        | '|'
                        | '>'
                        | '\''
                        | '"'
                        | '%'
                        | '@'
                        | '`'
                ) || (matches!(c, '?' | ':' | '-') && followed_by_whitespace)
                {
                    indicators = true;
                }
            } else if (c == ':' && followed_by_whitespace) || (c == '#' && preceded_by_whitespace) {
                indicators = true;
            }
            if !is_printable(c) {
                special = true;
            }
            if c == ' ' {
                leading_space |= first;
                trailing_space |= next.is_none();
                break_space |= previous_break;
                previous_space = true;
                previous_break = false;
            } else if is_break(c) {
                line_breaks = true;
                leading_break |= first;
                trailing_break |= next.is_none();
                space_break |= previous_space;
                previous_space = false;
                previous_break = true;
            } else {
                previous_space = false;
                previous_break = false;
            }
            preceded_by_whitespace = is_blankz(c);
            first = false;
            current = next;
        }
        let edges = leading_space || leading_break || trailing_space || trailing_break;
        Self {
            multiline: line_breaks,
            plain_allowed: !(edges
                || break_space
                || space_break
                || special
                || line_breaks
                || indicators),
            single_quoted_allowed: !(break_space || space_break || special),
            block_allowed: !(trailing_space || space_break || special),
        }
    }
}

/// A line break, for YAML: LF, CR, NEL and the Unicode line and paragraph separators.
fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// A blank, a break, or NUL (libyaml's end of string).
fn is_blankz(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\0') || is_break(c)
}

/// The characters libyaml writes as they are (YAML's printable set without tab, CR, NEL
/// and the byte-order mark); anything else forces double quotes and an escape.
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && c != '\u{feff}'
}

/// A collection being written: a block sequence or mapping once it has an entry, `[]` or
/// `{}` if it ends without one.
pub struct Collection<'a> {
    emitter: &'a mut Emitter,
    first: bool,
    /// The collection is a mapping's value: a sequence there is written at the key's indent.
    mapping_context: bool,
    /// The last key was written as `key:` rather than `? key`.
    simple_key: bool,
}

impl Collection<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let em = &mut *self.emitter;
        if self.first {
            self.first = false;
            em.increase_indent(false, self.mapping_context && !em.indention);
        }
        em.write_indent();
        em.write_indicator("-", true, false, true);
        em.context(false, false);
        value.serialize(&mut *em)
    }

    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        let em = &mut *self.emitter;
        if self.first {
            self.first = false;
            em.increase_indent(false, false);
        }
        em.write_indent();
        em.key_pending = true;
        key.serialize(&mut *em)?;
        if em.key_pending {
            return Err(Error("a YAML mapping key must be a scalar".to_owned()));
        }
        self.simple_key = em.simple_key;
        Ok(())
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let em = &mut *self.emitter;
        if self.simple_key {
            em.write_indicator(":", false, false, false);
        } else {
            em.write_indent();
            em.write_indicator(":", true, false, true);
        }
        em.context(true, false);
        value.serialize(&mut *em)
    }

    fn end_sequence(self) {
        if self.first {
            self.emitter.empty("[", "]");
        } else {
            self.emitter.pop_indent();
        }
    }

    fn end_mapping(self) {
        if self.first {
            self.emitter.empty("{", "}");
        } else {
            self.emitter.pop_indent();
        }
    }
}

/// A sequence, a tuple and a tuple struct are all written as a block sequence.
macro_rules! sequence {
    ($($trait:ident::$method:ident),*) => {$(
        impl ser::$trait for Collection<'_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.element(value)
            }
            fn end(self) -> Result<(), Error> {
                self.end_sequence();
                Ok(())
            }
        }
    )*};
}

sequence!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

impl ser::SerializeMap for Collection<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.value(value)
    }
    fn end(self) -> Result<(), Error> {
        self.end_mapping();
        Ok(())
    }
}

impl ser::SerializeStruct for Collection<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.key(key)?;
        self.value(value)
    }
    fn end(self) -> Result<(), Error> {
        self.end_mapping();
        Ok(())
    }
}

fn untagged(what: &str) -> Error {
    Error(format!("{what} has no untagged YAML form"))
}

impl<'a> ser::Serializer for &'a mut Emitter {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Collection<'a>;
    type SerializeTuple = Collection<'a>;
    type SerializeTupleStruct = Collection<'a>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Collection<'a>;
    type SerializeStruct = Collection<'a>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.scalar(if v { "true" } else { "false" }, Style::Plain);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.display(v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.display(v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.display(v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.display(v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if v.is_nan() {
            self.scalar(".nan", Style::Plain);
        } else if v.is_infinite() {
            self.scalar(if v > 0.0 { ".inf" } else { "-.inf" }, Style::Plain);
        } else {
            // The shortest text that reads back as the same number (`1.0`, `0.5`, `1e20`).
            self.display(format_args!("{v:?}"));
        }
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.string(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.string(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        use ser::SerializeSeq as _;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for byte in v {
            seq.serialize_element(byte)?;
        }
        seq.end()
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.scalar("null", Style::Plain);
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(untagged(variant))
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Collection<'a>, Error> {
        self.collection()
    }
    fn serialize_tuple(self, _len: usize) -> Result<Collection<'a>, Error> {
        self.collection()
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Collection<'a>, Error> {
        self.collection()
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(untagged(variant))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Collection<'a>, Error> {
        self.collection()
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Collection<'a>, Error> {
        self.collection()
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(untagged(variant))
    }
}

impl<'a> Emitter {
    fn collection(&'a mut self) -> Result<Collection<'a>, Error> {
        if self.key_pending {
            return Err(Error("a YAML mapping key must be a scalar".to_owned()));
        }
        Ok(Collection {
            mapping_context: self.mapping_context,
            emitter: self,
            first: true,
            simple_key: false,
        })
    }
}

/// Whether a plain (unquoted) scalar would be read as anything but a string by a YAML 1.1
/// reader (the types of yaml.org/type: bool, null, int, float, timestamp, merge, value; and
/// Go's yaml.v2, which also takes what `strconv` parses as a number) or a YAML 1.2 reader
/// (the core schema). Errs on the side of quoting: a quoted string is always a string.
#[must_use]
pub fn resolves_to_non_string(s: &str) -> bool {
    // Every such scalar starts with one of these (or is empty); most strings do not.
    match s.as_bytes().first() {
        None => true,
        Some(
            b'0'..=b'9'
            | b'+'
            | b'-'
            | b'.'
            | b'~'
            | b'<'
            | b'='
            | b'n'
            | b'N'
            | b'y'
            | b'Y'
            | b't'
            | b'T'
            | b'f'
            | b'F'
            | b'o'
            | b'O',
        ) => is_word(s) || is_number(s) || is_timestamp(s),
        Some(_) => false,
    }
}

/// Null, booleans, infinity, not-a-number, `<<` (merge) and `=` (value) in YAML 1.1 and the
/// 1.2 core schema.
const WORDS: [&str; 35] = [
    "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
    "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
    ".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN", "<<", "=",
];

fn is_word(s: &str) -> bool {
    WORDS.contains(&s)
}

/// Integers and floats in any base or notation either version (or Go) accepts: decimal with
/// `_` separators, `0b`/`0o`/`0x` and leading-zero octal, sexagesimal (`1:20`, `1:20.5`),
/// decimals with a fraction or an exponent (`1.5`, `.5`, `1e3`, and `1.0.0`, which YAML
/// 1.1's float pattern matches), signed infinities and hexadecimal floats.
fn is_number(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() {
        return false;
    }
    let signed = body.len() < s.len();
    // `+.inf`, `-Infinity`, `+nan`: YAML 1.1 and Go's ParseFloat.
    if signed
        && ["inf", "infinity", "nan", ".inf"]
            .iter()
            .any(|word| body.eq_ignore_ascii_case(word))
    {
        return true;
    }
    // `0x`, `0o` and `0b` in either case.
    if let [b'0', base, digits @ ..] = body.as_bytes()
        && matches!(base.to_ascii_lowercase(), b'x' | b'o' | b'b')
    {
        return !digits.is_empty()
            && digits.iter().all(|b| {
                b.is_ascii_hexdigit()
                    || matches!(b.to_ascii_lowercase(), b'_' | b'.' | b'p' | b'+' | b'-')
            });
    }
    if body.contains(':') {
        return is_sexagesimal(body);
    }
    is_decimal(body)
}

/// `[0-9][0-9_]*(:[0-9][0-9]?)+` with an optional fraction on the last part.
fn is_sexagesimal(body: &str) -> bool {
    let mut parts = body.split(':');
    let first = parts.next().unwrap_or_default();
    if !first.starts_with(|c: char| c.is_ascii_digit())
        || !first.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    let last = rest.len().saturating_sub(1);
    rest.iter().enumerate().all(|(index, part)| {
        let (whole, fraction) = match part.split_once('.') {
            Some((whole, fraction)) if index == last => (whole, fraction),
            _ => (*part, ""),
        };
        (1..=2).contains(&whole.len())
            && whole.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    })
}

/// A mantissa of digits, `_` and `.` holding at least one digit or dot (YAML 1.1's
/// `([0-9][0-9_]*)?\.[0-9.]*` matches `1.0.0` and `.`), then an optional exponent.
fn is_decimal(body: &str) -> bool {
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let mantissa_ok = !mantissa.is_empty()
        && !mantissa.starts_with('_')
        && mantissa
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'_' | b'.'));
    let has_digit = mantissa.bytes().any(|b| b.is_ascii_digit());
    match exponent {
        None => mantissa_ok,
        Some(exponent) => {
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            mantissa_ok
                && has_digit
                && !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        }
    }
}

/// YAML 1.1 timestamps: `YYYY-M-D`, optionally followed by a time (`T`, `t`, or spaces).
fn is_timestamp(s: &str) -> bool {
    let bytes = s.as_bytes();
    let Some(year) = bytes.get(..4) else {
        return false;
    };
    if !year.iter().all(u8::is_ascii_digit) || bytes.get(4) != Some(&b'-') {
        return false;
    }
    let mut at = 5;
    for separator in [Some(b'-'), None] {
        let digits = bytes[at..]
            .iter()
            .take(2)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return false;
        }
        at += digits;
        if let Some(separator) = separator {
            if bytes.get(at) != Some(&separator) {
                return false;
            }
            at += 1;
        }
    }
    matches!(bytes.get(at), None | Some(b'T' | b't' | b' ' | b'\t'))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn every_scalar_yaml_1_1_or_1_2_reads_as_another_type_is_ambiguous() {
        for s in [
            "",
            "~",
            "null",
            "NULL",
            "y",
            "Y",
            "n",
            "N",
            "yes",
            "Yes",
            "NO",
            "on",
            "On",
            "OFF",
            "true",
            "False",
            "<<",
            "=",
            "0",
            "42",
            "-7",
            "+7",
            "0755",
            "0o17",
            "0O17",
            "0x1F",
            "0X1f",
            "0b101",
            "-0b1",
            "1_000",
            "1:20",
            "190:20:30",
            "1:20.5",
            "1.5",
            ".5",
            "1.",
            "1e3",
            "1E+3",
            "1.5e-3",
            "6.8523015e+5",
            ".inf",
            "-.inf",
            "+.INF",
            ".NaN",
            "+inf",
            "-Infinity",
            "0x1p-2",
            "1.0.0",
            "3.17.2",
            "0.0.0.0",
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10 -5",
            "2002-1-2",
        ] {
            assert!(resolves_to_non_string(s), "{s:?} should be quoted");
        }
    }

    #[test]
    fn plain_words_names_and_quantities_stay_plain() {
        for s in [
            "mlflow",
            "yesterday",
            "online",
            "nope",
            "500m",
            "1Gi",
            "v1",
            "apps/v1",
            "team-a",
            "europe-west3",
            "127.0.0.1:5432",
            "10.0.0.0/8",
            "1.0.0-rc1",
            "2001-12",
            "e3",
            "inf",
            "Infinity",
            "nan",
            "_1",
            "1-2",
            "0x",
            "::1",
            "a:1",
        ] {
            assert!(!resolves_to_non_string(s), "{s:?} should stay plain");
        }
    }

    #[test]
    fn ambiguous_strings_are_single_quoted_keys_and_values_alike() {
        let mut map = std::collections::BTreeMap::new();
        map.insert("on", vec!["yes", "mlflow", "1:20", "it's"]);
        map.insert("name", vec!["0755"]);
        assert_eq!(
            document("h", &map),
            "# h\nname:\n- '0755'\n'on':\n- 'yes'\n- mlflow\n- '1:20'\n- it's\n"
        );
    }

    #[test]
    fn a_string_that_looks_like_a_placeholder_is_left_alone() {
        let map = std::collections::BTreeMap::from([("yamlquoted_0_", "yes")]);
        assert_eq!(document("h", &map), "# h\nyamlquoted_0_: 'yes'\n");
    }

    #[test]
    fn layout_of_nested_collections_empty_ones_and_block_strings() {
        #[derive(Serialize)]
        struct Doc {
            list: Vec<BTreeMap<&'static str, Vec<&'static str>>>,
            empty_map: BTreeMap<String, String>,
            empty_list: Vec<String>,
            nested: Vec<Vec<u8>>,
            none: Option<u8>,
            script: &'static str,
            kept: &'static str,
        }
        let doc = Doc {
            list: vec![BTreeMap::from([("a", vec!["x", "z"]), ("b", vec![])])],
            empty_map: BTreeMap::new(),
            empty_list: Vec::new(),
            nested: vec![vec![1, 2], vec![]],
            none: None,
            script: "set -e\n\n  indented\nlast",
            kept: " lead\n\n",
        };
        assert_eq!(
            document("h", &doc),
            "# h\nlist:\n- a:\n  - x\n  - z\n  b: []\nempty_map: {}\nempty_list: []\n\
             nested:\n- - 1\n  - 2\n- []\nnone: null\nscript: |-\n  set -e\n\n    indented\n  \
             last\nkept: |2+\n   lead\n\n"
        );
    }

    #[test]
    fn quotes_when_a_plain_scalar_would_not_read_back() {
        for (value, written) in [
            ("- item", "'- item'"),
            ("a: b", "'a: b'"),
            ("a #b", "'a #b'"),
            ("a#b", "a#b"),
            ("#x", "'#x'"),
            (" lead", "' lead'"),
            ("trail ", "'trail '"),
            ("it's", "it's"),
            ("'q'", "'''q'''"),
            ("tab\there", "\"tab\\there\""),
            ("bell\u{7}", "\"bell\\a\""),
            ("nel\u{85}", "\"nel\\N\""),
            ("bom\u{feff}", "\"bom\\uFEFF\""),
            ("cr\r", "\"cr\\r\""),
            ("trailing space \nline", "\"trailing space \\nline\""),
            ("---", "'---'"),
            ("…", "…"),
        ] {
            let map = BTreeMap::from([("k", value)]);
            assert_eq!(
                document("h", &map),
                format!("# h\nk: {written}\n"),
                "{value:?}"
            );
        }
    }

    #[test]
    fn long_and_multi_line_keys() {
        let long = "k".repeat(129);
        let map = BTreeMap::from([(long.as_str(), "v"), ("a\nb", "w")]);
        assert_eq!(
            document("h", &map),
            format!("# h\n? |-\n  a\n  b\n: w\n? {long}\n: v\n")
        );
        assert_eq!(
            document("h", &map)["# h\n".len()..],
            serde_yaml::to_string(&map).unwrap()
        );
    }

    /// Characters that exercise every style decision: indicators, quotes, blanks, breaks,
    /// escapes, non-ASCII and the starts of YAML 1.1 types.
    fn tricky() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "a",
            "/",
            "Z",
            "0",
            "1",
            "9",
            "_",
            "-",
            ".",
            ":",
            "#",
            "?",
            "!",
            "&",
            "*",
            "|",
            ">",
            "'",
            "\"",
            "%",
            "@",
            "`",
            ",",
            "[",
            "]",
            "{",
            "}",
            "~",
            "<<",
            "=",
            "+",
            " ",
            "  ",
            "\t",
            "\n",
            "\r",
            "\u{85}",
            "\u{a0}",
            "\u{2028}",
            "\u{feff}",
            "\0",
            "\u{1b}",
            "é",
            "日",
            "😀",
            "yes",
            "no",
            "on",
            "null",
            "true",
            "0x1F",
            "0o7",
            "1e3",
            "1:20",
            "2001-12-14",
            ".inf",
            "---",
            "...",
        ]);
        prop::collection::vec(pieces, 0..8).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        /// Every string, as a key and as a value, at the top and nested, reads back as the
        /// same string.
        #[test]
        fn every_string_reads_back_as_itself(key in tricky(), value in tricky()) {
            let doc = BTreeMap::from([
                (key.clone(), vec![BTreeMap::from([(key.clone(), value.clone())])]),
            ]);
            let text = document("h", &doc);
            let back: BTreeMap<String, Vec<BTreeMap<String, String>>> =
                parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(back, doc, "{}", text);
        }

        /// A string is written plain only when no YAML 1.1 or 1.2 reader takes it for
        /// another type; the layout is libyaml's, as `serde_yaml` writes it.
        #[test]
        fn plain_only_when_unambiguous_and_otherwise_as_libyaml_writes(value in tricky()) {
            let doc = BTreeMap::from([("k", value.as_str())]);
            let text = document("h", &doc);
            if text == format!("# h\nk: {value}\n") {
                prop_assert!(!resolves_to_non_string(&value), "{}", text);
            }
            if !resolves_to_non_string(&value) {
                let libyaml = serde_yaml::to_string(&doc).unwrap();
                prop_assert_eq!(&text["# h\n".len()..], libyaml);
                let as_key = BTreeMap::from([(value.as_str(), vec!["v"])]);
                let libyaml = serde_yaml::to_string(&as_key).unwrap();
                prop_assert_eq!(&document("h", &as_key)["# h\n".len()..], libyaml);
            }
        }
    }
}
