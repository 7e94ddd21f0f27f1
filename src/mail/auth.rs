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

/// Whether `results` (header values, topmost first) show `dkim=pass` or
/// `dmarc=pass` for `domain`, according to the server `authserv_id`.
pub fn authenticated(results: &[String], authserv_id: &str, domain: &str) -> bool {
    let domain = domain.to_ascii_lowercase();
    let Some(ours) = results.iter().find(|r| {
        strip_comments(r)
            .split(';')
            .next()
            .and_then(|id| id.split_whitespace().next())
            .is_some_and(|id| id.eq_ignore_ascii_case(authserv_id))
    }) else {
        return false;
    };
    let text = strip_comments(ours).to_ascii_lowercase();
    text.split(';').skip(1).any(|resinfo| {
        let mut tokens = resinfo.split_whitespace();
        let Some(result) = tokens.next() else {
            return false;
        };
        let props: Vec<&str> = tokens.collect();
        let prop = |name: &str| -> Option<String> {
            props.iter().find_map(|p| {
                p.strip_prefix(name)
                    .and_then(|v| v.strip_prefix('='))
                    .map(|v| v.trim_matches('"').to_string())
            })
        };
        match result {
            "dkim=pass" => {
                prop("header.d").is_some_and(|d| d == domain)
                    || prop("header.i").is_some_and(|i| i.ends_with(&format!("@{domain}")))
            }
            "dmarc=pass" => prop("header.from").is_some_and(|d| d == domain),
            _ => false,
        }
    })
}

/// Removes `(comments)`, which may contain anything, including `;`.
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0u32;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
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
    fn only_the_topmost_header_of_our_server_is_read() {
        // The forger's header sits below ours.
        let r = v(&[
            "mx.example.org; dkim=fail header.d=example.org",
            "mx.example.org; dkim=pass header.d=example.org",
        ]);
        assert!(!authenticated(&r, "mx.example.org", "example.org"));
    }
}
