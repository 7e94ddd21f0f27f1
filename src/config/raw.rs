//! The raw stage of the configuration: what the file and the environment
//! say, before any meaning. serde structs that refuse unknown keys; every
//! value an `Option`, so that the resolve stage decides the defaults and
//! names the key at fault.

use serde::{Deserialize, Deserializer};

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) project: RawProject,
    pub(super) imap: Option<RawImap>,
    pub(super) smtp: Option<RawSmtp>,
    pub(super) github: Option<super::packages::RawGithub>,
    #[serde(default)]
    pub(super) store: RawStore,
    #[serde(default)]
    pub(super) team: RawTeam,
    #[serde(default)]
    pub(super) sla: RawSla,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default)]
    pub(super) templates: RawTemplates,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProject {
    pub(super) name: Option<String>,
    pub(super) security_address: Option<String>,
    pub(super) case_prefix: Option<String>,
    pub(super) policy_url: Option<String>,
    pub(super) advisory_ecosystem: Option<String>,
    pub(super) advisory_package: Option<String>,
    pub(super) repository_url: Option<String>,
    #[serde(default, deserialize_with = "list_or_csv")]
    pub(super) relay_list_ids: Vec<String>,
    #[serde(default)]
    pub(super) packages: Vec<super::packages::RawPackage>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawImap {
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) tls: Option<String>,
    pub(super) username: Option<String>,
    pub(super) password: Option<String>,
    pub(super) password_file: Option<String>,
    pub(super) mailbox: Option<String>,
    pub(super) sent_mailbox: Option<String>,
    pub(super) processed_mailbox: Option<String>,
    pub(super) idle: Option<bool>,
    pub(super) poll_interval: Option<String>,
    pub(super) timeout: Option<String>,
    pub(super) ca_file: Option<String>,
    pub(super) batch_size: Option<u32>,
    pub(super) history: Option<String>,
    pub(super) since: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSmtp {
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) tls: Option<String>,
    pub(super) username: Option<String>,
    pub(super) password: Option<String>,
    pub(super) password_file: Option<String>,
    pub(super) from: Option<String>,
    pub(super) timeout: Option<String>,
    pub(super) ca_file: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub(super) path: Option<String>,
    pub(super) data_dir: Option<String>,
    pub(super) max_message_size: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTeam {
    #[serde(default, deserialize_with = "list_or_csv")]
    pub(super) lead: Vec<String>,
    #[serde(default, deserialize_with = "list_or_csv")]
    pub(super) members: Vec<String>,
    #[serde(default, deserialize_with = "list_or_csv")]
    pub(super) escalation: Vec<String>,
    pub(super) timezone: Option<String>,
    pub(super) trust_authentication_results: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSla {
    pub(super) response_window: Option<String>,
    #[serde(default, deserialize_with = "opt_list_or_csv")]
    pub(super) remind_before: Option<Vec<String>>,
    pub(super) scan: Option<String>,
    pub(super) follow_up_window: Option<String>,
    #[serde(default, deserialize_with = "opt_list_or_csv")]
    pub(super) embargo_remind_before: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) acks_per_sender_per_hour: Option<u32>,
    pub(super) acks_per_domain_per_hour: Option<u32>,
    pub(super) acks_per_hour: Option<u32>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTemplates {
    pub(super) dir: Option<String>,
}

/// Environment variables carry lists as `a@x,b@y`; the file as TOML arrays.
fn list_or_csv<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(opt_list_or_csv(d)?.unwrap_or_default())
}

fn opt_list_or_csv<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCsv {
        List(Vec<String>),
        Csv(String),
    }
    Ok(match Option::<ListOrCsv>::deserialize(d)? {
        None => None,
        Some(ListOrCsv::List(v)) => Some(v),
        Some(ListOrCsv::Csv(s)) => Some(
            s.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
        ),
    })
}
