//! The SMTP connection the outbox sends over: lettre's protocol engine on a
//! socket we open ourselves.
//!
//! lettre's transport does not set `TCP_NODELAY`; with Nagle's algorithm the
//! last small write of each message (`\r\n.\r\n`) waits for the server's
//! delayed ACK — 40 ms per mail on Linux, measured here as 48 ms per send
//! and a 29x slower backlog. So the socket is ours (nodelay on), TLS is
//! rustls with the ring provider — implicit via tokio-rustls, STARTTLS via
//! lettre — and one connection is kept for consecutive sends, re-opened
//! after an error or when it has idled long enough that servers drop it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use lettre::Message;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::config::{SmtpConfig, TlsMode};

/// Re-open a connection idle longer than this: Postfix drops idle clients
/// after `smtpd_timeout` (300 s by default), others sooner.
const MAX_IDLE: Duration = Duration::from_secs(30);

/// An implicit-TLS stream lettre can drive.
#[derive(Debug)]
struct Tls(tokio_rustls::client::TlsStream<TcpStream>);

impl tokio::io::AsyncRead for Tls {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Tls {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for Tls {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// What went wrong with a send, in the terms the retry policy needs.
#[derive(Debug)]
pub enum SendError {
    /// A 5xx answer: retrying cannot help.
    Permanent(String),
    /// Anything else: 4xx, network, TLS, timeouts.
    Transient(String),
}

/// A kept SMTP connection.
pub struct SmtpClient {
    cfg: SmtpConfig,
    hello: ClientId,
    tls_params: Option<TlsParameters>,
    rustls: Option<Arc<rustls::ClientConfig>>,
    conn: Option<(AsyncSmtpConnection, Instant)>,
}

fn text(e: &lettre::transport::smtp::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        let msg = inner.to_string();
        if !s.contains(&msg) {
            s.push_str(": ");
            s.push_str(&msg);
        }
        src = inner.source();
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn classify(e: lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() {
        SendError::Permanent(text(&e))
    } else {
        SendError::Transient(text(&e))
    }
}

impl SmtpClient {
    /// Prepares the client (reads `ca_file`); connects on first use.
    pub fn new(cfg: &SmtpConfig) -> Result<SmtpClient> {
        let host = cfg.host.trim_matches(|c| c == '[' || c == ']').to_string();
        let (tls_params, rustls) = match cfg.tls {
            TlsMode::None => (None, None),
            TlsMode::Starttls => {
                let mut p = TlsParameters::builder(host);
                if let Some(ca) = &cfg.ca_file {
                    let pem = std::fs::read(ca)
                        .with_context(|| format!("reading smtp.ca_file {}", ca.display()))?;
                    let cert = Certificate::from_pem(&pem).with_context(|| {
                        format!("smtp.ca_file {}: not a PEM certificate", ca.display())
                    })?;
                    p = p.add_root_certificate(cert);
                }
                (Some(p.build_rustls().context("SMTP TLS settings")?), None)
            }
            TlsMode::Implicit => (
                None,
                Some(crate::tls::client_config(cfg.ca_file.as_deref())?),
            ),
        };
        let domain = cfg
            .from
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("localhost");
        Ok(SmtpClient {
            cfg: cfg.clone(),
            hello: ClientId::Domain(domain.to_string()),
            tls_params,
            rustls,
            conn: None,
        })
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let where_ = format!("SMTP {}:{}", self.cfg.host, self.cfg.port);
        let tcp = TcpStream::connect((self.cfg.host.as_str(), self.cfg.port))
            .await
            .map_err(|e| SendError::Transient(format!("connecting to {where_}: {e}")))?;
        // The reason this module exists: see the module comment.
        let _ = tcp.set_nodelay(true);
        let mut conn = match &self.rustls {
            Some(config) => {
                let name = crate::tls::server_name(&self.cfg.host)
                    .map_err(|e| SendError::Permanent(format!("{e:#}")))?;
                let tls = TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| {
                        SendError::Transient(format!("TLS handshake with {where_}: {e}"))
                    })?;
                AsyncSmtpConnection::connect_with_transport(Box::new(Tls(tls)), &self.hello)
                    .await
                    .map_err(classify)?
            }
            None => AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                .await
                .map_err(classify)?,
        };
        if let Some(p) = &self.tls_params {
            conn.starttls(p.clone(), &self.hello).await.map_err(|e| {
                SendError::Transient(format!("STARTTLS with {where_}: {}", text(&e)))
            })?;
        }
        if let (Some(u), Some(p)) = (&self.cfg.username, &self.cfg.password) {
            let creds = Credentials::new(u.clone(), p.expose().to_string());
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)
                .await
                .map_err(classify)?;
        }
        Ok(conn)
    }

    /// Sends one message (the caller bounds the whole call with a timeout).
    pub async fn send(&mut self, msg: &Message) -> Result<(), SendError> {
        let reuse = match self.conn.take() {
            Some((c, last)) if !c.has_broken() && last.elapsed() < MAX_IDLE => Some(c),
            Some((mut c, _)) => {
                c.abort().await;
                None
            }
            None => None,
        };
        let reused = reuse.is_some();
        let mut conn = match reuse {
            Some(c) => c,
            None => self.connect().await?,
        };
        let raw = msg.formatted();
        match conn.send(msg.envelope(), &raw).await {
            Ok(_) => {
                self.conn = Some((conn, Instant::now()));
                Ok(())
            }
            Err(e) => {
                // Whatever the state of the connection, start afresh.
                conn.abort().await;
                if reused && !e.is_permanent() {
                    // A kept connection the server had dropped: one more go
                    // on a new one (the Message-ID is the same either way).
                    let mut fresh = self.connect().await?;
                    return match fresh.send(msg.envelope(), &raw).await {
                        Ok(_) => {
                            self.conn = Some((fresh, Instant::now()));
                            Ok(())
                        }
                        Err(e) => {
                            fresh.abort().await;
                            Err(classify(e))
                        }
                    };
                }
                Err(classify(e))
            }
        }
    }

    /// Connects, says EHLO (and STARTTLS, AUTH), and quits: for `check`.
    pub async fn probe(&self) -> Result<()> {
        let mut c = self.connect().await.map_err(|e| match e {
            SendError::Permanent(s) | SendError::Transient(s) => anyhow!(s),
        })?;
        let _ = c.quit().await;
        Ok(())
    }
}
