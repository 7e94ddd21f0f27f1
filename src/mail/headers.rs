//! The raw header block, read as bytes: exact field names, how often a
//! field occurs, and how big the block is.
//!
//! mail-parser is lenient on purpose: it maps `Auth entication-Results:` or
//! `Authentication-Results :` onto `Authentication-Results`, keeps only the
//! last of two `From` fields, and takes a lone `x` line for a header. That is
//! right for reading text and wrong for anything that grants trust or picks
//! a recipient. Those decisions read this scan instead: a field counts only
//! under a well-formed name (RFC 5322 §2.2: printable ASCII but `:`, no
//! space before the colon). It also bounds the work: a header block over
//! [`MAX_HEADER_BYTES`] or [`MAX_FIELDS`] is refused before mail-parser,
//! whose memory grows about twenty-fold with tiny fields, ever sees it.

/// Largest header block accepted (real ones stay under 100 KB, Received
/// chains included).
pub const MAX_HEADER_BYTES: usize = 1024 * 1024;
/// Most header fields accepted in the top-level header block.
pub const MAX_FIELDS: usize = 10_000;
/// How much of an over-large header block is read to describe a rejected
/// message (its From, Subject, Message-ID).
pub const DESCRIBE_BYTES: usize = 64 * 1024;

/// One header field as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The bytes before the colon; `None` when they are not a well-formed
    /// field name (or there is no colon at all).
    pub name: Option<&'a [u8]>,
    /// The raw value after the colon, folding included.
    pub value: &'a [u8],
}

/// The header block of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawHeaders<'a> {
    pub fields: Vec<Field<'a>>,
    /// Where the body starts (after the blank line), or the input's length.
    pub body_offset: usize,
}

/// Why a header block is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderProblem {
    /// Not one well-formed `Name: value` field.
    NoFields,
    /// The block runs past [`MAX_HEADER_BYTES`].
    TooLarge,
    /// More than [`MAX_FIELDS`] fields.
    TooManyFields,
}

impl<'a> RawHeaders<'a> {
    /// Values of the fields named exactly `name` (ASCII case-insensitive),
    /// top first, unfolded and decoded lossily as UTF-8.
    pub fn values(&self, name: &str) -> impl Iterator<Item = String> + '_ {
        let name = name.as_bytes().to_vec();
        self.fields
            .iter()
            .filter(move |f| f.name.is_some_and(|n| n.eq_ignore_ascii_case(&name)))
            .map(|f| unfold(f.value))
    }

    /// How many fields are named exactly `name`.
    pub fn count(&self, name: &str) -> usize {
        self.fields
            .iter()
            .filter(|f| {
                f.name
                    .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
            })
            .count()
    }

    /// Whether any well-formed field has one of `names`.
    pub fn has_any(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.count(n) > 0)
    }
}

/// A well-formed field name: 1 to 200 printable ASCII characters but `:`.
fn is_field_name(b: &[u8]) -> bool {
    !b.is_empty() && b.len() <= 200 && b.iter().all(|c| (33..=126).contains(c) && *c != b':')
}

/// Reads the header block of `raw`.
pub fn scan(raw: &[u8]) -> Result<RawHeaders<'_>, HeaderProblem> {
    let mut fields: Vec<Field<'_>> = Vec::new();
    let mut pos = 0;
    let mut body_offset = raw.len();
    // Where the block's last line ends: the blank line, or the input's end.
    let mut block_end = raw.len();
    // (where the open field's value starts, its name).
    let mut open: Option<(usize, Option<&[u8]>)> = None;
    while pos < raw.len() {
        if pos > MAX_HEADER_BYTES {
            return Err(HeaderProblem::TooLarge);
        }
        let line_end = raw[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| pos + i + 1);
        let line = &raw[pos..line_end];
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            block_end = pos;
            body_offset = line_end;
            break;
        }
        if matches!(content.first(), Some(b' ' | b'\t')) && open.is_some() {
            // A folded continuation of the open field.
            pos = line_end;
            continue;
        }
        if let Some((start, name)) = open.take() {
            fields.push(Field {
                name,
                value: &raw[start..pos],
            });
        }
        if fields.len() >= MAX_FIELDS {
            return Err(HeaderProblem::TooManyFields);
        }
        open = Some(match content.iter().position(|&b| b == b':') {
            Some(colon) => {
                let name = &content[..colon];
                (pos + colon + 1, is_field_name(name).then_some(name))
            }
            None => (line_end, None),
        });
        pos = line_end;
    }
    if block_end > MAX_HEADER_BYTES {
        return Err(HeaderProblem::TooLarge);
    }
    if let Some((start, name)) = open.take() {
        fields.push(Field {
            name,
            value: raw.get(start..block_end.max(start)).unwrap_or_default(),
        });
    }
    if !fields.iter().any(|f| f.name.is_some()) {
        return Err(HeaderProblem::NoFields);
    }
    Ok(RawHeaders {
        fields,
        body_offset,
    })
}

/// A field value on one line: folding undone, CR/LF gone, trimmed.
pub fn unfold(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let mut out = String::with_capacity(text.len());
    for part in text.split(['\r', '\n']) {
        if part.is_empty() {
            continue;
        }
        if !out.is_empty() && !out.ends_with(' ') && part.starts_with([' ', '\t']) {
            out.push(' ');
        }
        out.push_str(part.trim_start_matches([' ', '\t']));
    }
    out.trim().to_string()
}

/// The first `max` bytes of the header block, cut after a whole line: enough
/// to describe a message whose block is refused.
pub fn describe_prefix(raw: &[u8], max: usize) -> &[u8] {
    let cut = raw.len().min(max);
    let head = &raw[..cut];
    match head.iter().rposition(|&b| b == b'\n') {
        Some(i) if cut < raw.len() => &raw[..=i],
        _ => head,
    }
}

/// A bound on what mail-parser builds for the MIME parts of a multipart
/// body: lines that could delimit a part (`--…`) and lines that could be a
/// header field of a part (`name:`). Counted over the whole body without
/// knowing the boundaries, so it overcounts — never under.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BodyShape {
    pub dash_lines: usize,
    pub field_lines: usize,
}

/// Most `--` lines in a multipart body before its parts are left unparsed.
pub const MAX_PART_LINES: usize = 10_000;
/// Most field-like lines in a multipart body before its parts are left
/// unparsed.
pub const MAX_PART_FIELDS: usize = 50_000;

/// Counts the lines of `body` that could become MIME parts or part headers.
pub fn body_shape(body: &[u8]) -> BodyShape {
    let mut shape = BodyShape::default();
    for line in body.split(|&b| b == b'\n') {
        if line.starts_with(b"--") {
            shape.dash_lines += 1;
        } else if let Some(colon) = line.iter().take(201).position(|&b| b == b':') {
            if is_field_name(&line[..colon]) {
                shape.field_lines += 1;
            }
        }
    }
    shape
}

impl BodyShape {
    /// Why parsing the parts could take more memory than it is worth.
    pub fn too_complex(&self) -> Option<String> {
        if self.dash_lines > MAX_PART_LINES {
            Some(format!(
                "{} lines that could delimit MIME parts (more than {MAX_PART_LINES})",
                self.dash_lines
            ))
        } else if self.field_lines > MAX_PART_FIELDS {
            Some(format!(
                "{} lines that could be MIME part headers (more than {MAX_PART_FIELDS})",
                self.field_lines
            ))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(raw: &[u8]) -> Vec<Option<String>> {
        scan(raw)
            .unwrap()
            .fields
            .iter()
            .map(|f| f.name.map(|n| String::from_utf8_lossy(n).into_owned()))
            .collect()
    }

    #[test]
    fn fields_folding_and_body() {
        let raw = b"From: a@b.example\r\nSubject: one\r\n two\r\nX: y\r\n\r\nbody\r\n";
        let h = scan(raw).unwrap();
        assert_eq!(h.fields.len(), 3);
        assert_eq!(h.values("subject").collect::<Vec<_>>(), vec!["one two"]);
        assert_eq!(h.values("X").collect::<Vec<_>>(), vec!["y"]);
        assert_eq!(&raw[h.body_offset..], b"body\r\n");
    }

    #[test]
    fn malformed_names_do_not_count_as_the_real_one() {
        let raw = b"Auth entication-Results: x; dkim=pass\r\nAuthentication -Results: y\r\n\
Authentication-Results : z\r\nAuthentication-Results\t: w\r\nauthentication-results: ok; dkim=pass\r\n\r\n";
        let h = scan(raw).unwrap();
        assert_eq!(
            h.values("Authentication-Results").collect::<Vec<_>>(),
            vec!["ok; dkim=pass"]
        );
        assert_eq!(names(raw).iter().filter(|n| n.is_none()).count(), 4);
    }

    #[test]
    fn counts_repeated_fields() {
        let raw = b"From: a@b.example\nFrom: c@d.example\n\nhi";
        assert_eq!(scan(raw).unwrap().count("from"), 2);
    }

    #[test]
    fn what_is_not_a_header_block() {
        assert_eq!(scan(b"x"), Err(HeaderProblem::NoFields));
        assert_eq!(scan(b"no colon here\r\n\r\n"), Err(HeaderProblem::NoFields));
        assert_eq!(scan(b": empty name\r\n"), Err(HeaderProblem::NoFields));
        let mut big = b"From: a@b.example\r\n".to_vec();
        let line = format!("X-Junk: {}\r\n", "a".repeat(300));
        big.extend(line.as_bytes().repeat(5_000));
        assert_eq!(scan(&big), Err(HeaderProblem::TooLarge));
        let mut many = b"From: a@b.example\r\n".to_vec();
        many.extend(b"X:a\r\n".repeat(MAX_FIELDS + 1));
        assert_eq!(scan(&many), Err(HeaderProblem::TooManyFields));
    }

    #[test]
    fn describe_prefix_cuts_at_a_line() {
        assert_eq!(describe_prefix(b"A: 1\r\nB: 2\r\nC: 3", 9), b"A: 1\r\n");
        assert_eq!(describe_prefix(b"A: 1\r\n", 100), b"A: 1\r\n");
    }

    #[test]
    fn body_shape_bounds_parts() {
        let body = b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n".repeat(20_000);
        let s = body_shape(&body);
        assert_eq!(s.dash_lines, 20_000);
        assert!(s.too_complex().is_some());
        let text = b"Note: this is fine\r\n-- \r\nSam\r\n";
        assert_eq!(body_shape(text).too_complex(), None);
    }
}
