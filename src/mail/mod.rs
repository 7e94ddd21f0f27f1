//! Mail as data: parsing inbound bytes, deciding whether to answer, finding
//! the case a message belongs to, and composing outbound mail. Pure — no
//! sockets, no database, no clock.

pub mod address;
pub mod auth;
pub mod classify;
pub mod compose;
pub mod forward;
pub mod headers;
/// HTML bodies as text that keeps the mail's layout (html2text, bounded).
pub mod html;
pub mod list_headers;
pub mod parse;
pub mod relay;
pub mod text;
pub mod thread;

/// Our loop-detection header: present on every mail secdesk sends, so a
/// copy that comes back is recognised and never answered.
pub const LOOP_HEADER: &str = "X-Secdesk-Loop";
