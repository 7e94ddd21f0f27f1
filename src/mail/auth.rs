//! Reading `Authentication-Results` (RFC 8601): did our own receiving
//! server see a DKIM or DMARC pass for the sender's domain?
//!
//! A From line is trivially forged, so when `team.trust_authentication_results`
//! names the receiving server's authserv-id, team mail counts only with a
//! pass in *that server's* header. Only the topmost header carrying the id
//! is read: the receiving server adds its header on top, and a sender can
//! put any number of fake ones below it. The trade-off: the server must
//! strip or not emit headers with its own authserv-id from incoming mail
//! (OpenDKIM/OpenDMARC and rspamd do), and team mail from a domain that
//! signs nothing will not stop the clock — use `secdesk responded` then.

/// One `resinfo` (RFC 8601 §2.2): a method, its result, and its
/// properties (`header.d` → `example.org`), names lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResInfo {
    pub method: String,
    pub result: String,
    pub props: Vec<(String, String)>,
}

/// A parsed `Authentication-Results` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    pub authserv_id: String,
    pub results: Vec<ResInfo>,
}

/// The lexical pieces of a header value: CFWS (comments included) separates
/// words, a quoted string and the atoms touching it form one word (so
/// `"a;b"@c` is one value), and `;` and `=` are punctuation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Semi,
    Eq,
    Word(String),
}

/// Longest value read; real ones are a few hundred bytes.
const MAX_VALUE: usize = 8192;

fn tokens(value: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = value.chars().take(MAX_VALUE);
    let end_word = |word: &mut Option<String>, out: &mut Vec<Tok>| {
        if let Some(w) = word.take() {
            out.push(Tok::Word(w));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '(' => {
                // A comment, nested, with quoted-pairs (RFC 5322 §3.2.2).
                end_word(&mut word, &mut out);
                let mut depth = 1u32;
                while depth > 0 {
                    match chars.next() {
                        Some('\\') => {
                            chars.next();
                        }
                        Some('(') => depth += 1,
                        Some(')') => depth -= 1,
                        Some(_) => {}
                        None => break,
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\\') => {
                            if let Some(q) = chars.next() {
                                w.push(q);
                            }
                        }
                        Some('"') | None => break,
                        Some(q) => w.push(q),
                    }
                }
            }
            ';' => {
                end_word(&mut word, &mut out);
                out.push(Tok::Semi);
            }
            '=' => {
                end_word(&mut word, &mut out);
                out.push(Tok::Eq);
            }
            c if c.is_whitespace() => end_word(&mut word, &mut out),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    end_word(&mut word, &mut out);
    out
}

/// Parses one header value (RFC 8601 §2.2). A `resinfo` that does not have
/// the shape `method=result *(ptype.property=value)` is dropped whole: it
/// can only ever count for less, never for more.
pub fn parse(value: &str) -> Option<AuthResults> {
    let toks = tokens(value);
    let mut groups = toks.split(|t| *t == Tok::Semi);
    let head = groups.next()?;
    let authserv_id = match head.first() {
        Some(Tok::Word(w)) => w.to_ascii_lowercase(),
        _ => return None,
    };
    let results = groups.filter_map(resinfo).collect();
    Some(AuthResults {
        authserv_id,
        results,
    })
}

fn resinfo(toks: &[Tok]) -> Option<ResInfo> {
    let word = |i: usize| match toks.get(i) {
        Some(Tok::Word(w)) => Some(w.to_ascii_lowercase()),
        _ => None,
    };
    let method = word(0)?;
    if toks.get(1) != Some(&Tok::Eq) {
        return None;
    }
    let result = word(2)?;
    let mut props = Vec::new();
    let mut i = 3;
    while i < toks.len() {
        let name = word(i)?;
        if toks.get(i + 1) != Some(&Tok::Eq) {
            return None;
        }
        let value = word(i + 2)?;
        props.push((name, value));
        i += 3;
    }
    Some(ResInfo {
        // `dkim/1`: a method version (§2.2) is not part of its name.
        method: method.split('/').next().unwrap_or("").to_string(),
        result,
        props,
    })
}

/// Whether `results` (values of fields named exactly
/// `Authentication-Results`, topmost first) show `dkim=pass` or
/// `dmarc=pass` for `domain`, according to the server `authserv_id`.
pub fn authenticated(results: &[String], authserv_id: &str, domain: &str) -> bool {
    let domain = domain.to_ascii_lowercase();
    let Some(ours) = results
        .iter()
        .filter_map(|r| parse(r))
        .find(|r| r.authserv_id.eq_ignore_ascii_case(authserv_id))
    else {
        return false;
    };
    ours.results.iter().any(|r| {
        let prop = |name: &str| {
            r.props
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        match (r.method.as_str(), r.result.as_str()) {
            ("dkim", "pass") => {
                prop("header.d") == Some(domain.as_str())
                    || prop("header.i").is_some_and(|i| i.ends_with(&format!("@{domain}")))
            }
            ("dmarc", "pass") => prop("header.from") == Some(domain.as_str()),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn passes_from_our_server_count() {
        let r = v(&["mx.example.org; dkim=pass (2048-bit key) header.d=example.org header.s=s1; spf=pass smtp.mailfrom=example.org"]);
        assert!(authenticated(&r, "mx.example.org", "example.org"));
        let r = v(&["mx.example.org 1; dmarc=pass (p=reject) header.from=Example.org"]);
        assert!(authenticated(&r, "MX.example.org", "example.org"));
    }

    #[test]
    fn fails_and_foreign_servers_do_not() {
        for r in [
            v(&["mx.example.org; dkim=fail header.d=example.org"]),
            v(&["mx.example.org; dkim=pass header.d=evil.example"]),
            v(&["mx.example.org; spf=pass smtp.mailfrom=example.org"]),
            v(&["other.example; dkim=pass header.d=example.org"]),
            v(&["mx.example.org; dkim=none (dkim=pass header.d=example.org)"]),
            v(&[]),
        ] {
            assert!(!authenticated(&r, "mx.example.org", "example.org"), "{r:?}");
        }
    }

    #[test]
    fn quoted_strings_and_comments_do_not_split_results() {
        for r in [
            // A `;` inside a quoted local part must not start a new resinfo.
            r#"mx.example.org; spf=pass smtp.mailfrom="x;dkim=pass header.d=example.org y"@evil.example"#,
            r#"mx.example.org; spf=pass smtp.mailfrom="x\";dkim=pass header.d=example.org"@evil.example"#,
            "mx.example.org; spf=pass (a comment; dkim=pass header.d=example.org) smtp.mailfrom=evil.example",
            "mx.example.org; spf=pass (nested (comment; dkim=pass header.d=example.org)) smtp.mailfrom=e",
            "mx.example.org; dkim=pass header.d=example.org.evil.example",
            "mx.example.org; dkim=pass header.d",
            "mx.example.org; dkim pass header.d=example.org",
        ] {
            assert!(
                !authenticated(&v(&[r]), "mx.example.org", "example.org"),
                "{r}"
            );
        }
        let ok = r#"mx.example.org 1; spf=pass smtp.mailfrom="a;b"@example.org; dkim/1=pass header.d="example.org" header.s=s1"#;
        assert!(authenticated(&v(&[ok]), "mx.example.org", "example.org"));
        let parsed = parse(ok).unwrap();
        assert_eq!(parsed.results.len(), 2);
        assert_eq!(parsed.results[0].props[0].1, "a;b@example.org");
    }

    #[test]
    fn only_the_topmost_header_of_our_server_is_read() {
        // The forger's header sits below ours.
        let r = v(&[
            "mx.example.org; dkim=fail header.d=example.org",
            "mx.example.org; dkim=pass header.d=example.org",
        ]);
        assert!(!authenticated(&r, "mx.example.org", "example.org"));
    }
}
