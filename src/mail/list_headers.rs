//! What a list or relay writes into a message it passes on: `List-Id`,
//! `List-Post`, and where the sender went when From was rewritten
//! (`Reply-To`, `X-Original-From`, `X-Original-Sender`). Read from fields
//! of exactly those names; [`super::relay`] decides what they mean.

use super::address::{parse_mailbox, Mailbox};
use super::headers::RawHeaders;
use super::text::clean_line;

/// The headers a relay sets, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayHeaders {
    /// The id inside `List-Id`'s angle brackets, lower-case.
    pub list_id: Option<String>,
    /// `List-Post`, lower-case.
    pub list_post: Option<String>,
    pub reply_to: Option<Mailbox>,
    pub original_from: Option<Mailbox>,
    pub original_sender: Option<Mailbox>,
}

/// Reads the relay's headers from fields of exactly their names.
pub fn relay_headers(block: &RawHeaders<'_>) -> RelayHeaders {
    let first = |name: &str| block.values(name).next();
    RelayHeaders {
        list_id: first("List-Id").and_then(|v| {
            let id = match (v.rfind('<'), v.rfind('>')) {
                (Some(a), Some(b)) if a < b => v.get(a + 1..b).unwrap_or(""),
                _ => v.as_str(),
            };
            Some(clean_line(id, 200).to_ascii_lowercase()).filter(|s| !s.is_empty())
        }),
        list_post: first("List-Post").map(|v| clean_line(&v, 300).to_ascii_lowercase()),
        reply_to: first("Reply-To").and_then(|v| parse_mailbox(&v)),
        original_from: first("X-Original-From").and_then(|v| parse_mailbox(&v)),
        original_sender: first("X-Original-Sender").and_then(|v| parse_mailbox(&v)),
    }
}
