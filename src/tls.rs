//! TLS client settings shared by IMAP intake: rustls with the ring provider,
//! the webpki root set, plus an optional extra CA (`ca_file`) for a private
//! CA. Verification is never switched off.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

/// A rustls client configuration trusting the public roots and `ca_file`.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        for cert in read_pem_certs(path)? {
            roots
                .add(cert)
                .with_context(|| format!("ca_file {}: unusable certificate", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificates in a PEM file (at least one).
pub fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).with_context(|| format!("reading ca_file {}", path.display()))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<_, _>>()
        .with_context(|| format!("ca_file {}: not PEM", path.display()))?;
    if certs.is_empty() {
        bail!("ca_file {}: no certificate in it", path.display());
    }
    Ok(certs)
}

/// The name to verify the server's certificate against (a DNS name or an IP).
pub fn server_name(host: &str) -> Result<ServerName<'static>> {
    let h = host.trim_matches(|c| c == '[' || c == ']');
    ServerName::try_from(h.to_string())
        .with_context(|| format!("{host:?} is not a valid host name"))
}
