//! Opening an IMAP session: TCP, TLS (implicit or STARTTLS) or none on
//! loopback, greeting, LOGIN. Every step under the configured timeout.

use std::fmt::Debug;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use async_imap::{Client, Session};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::config::{is_loopback, ImapConfig, TlsMode};

/// Any byte stream an IMAP session can run over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Io for T {}

/// An authenticated IMAP session.
pub type ImapSession = Session<Box<dyn Io>>;

/// Runs `fut` under `limit`, naming `what` when it runs out.
pub async fn timed<T>(
    limit: Duration,
    what: &str,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => bail!("{what}: timed out after {}s", limit.as_secs_f32()),
    }
}

/// Connects, secures and logs in.
pub async fn connect(cfg: &ImapConfig) -> Result<ImapSession> {
    let t = cfg.timeout;
    let addr = (cfg.host.as_str(), cfg.port);
    let where_ = format!("IMAP {}:{}", cfg.host, cfg.port);
    let tcp = timed(t, &format!("connecting to {where_}"), async {
        TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {where_}"))
    })
    .await?;
    let _ = tcp.set_nodelay(true);

    let stream: Box<dyn Io> = match cfg.tls {
        TlsMode::Implicit => Box::new(tls_wrap(cfg, tcp).await?),
        TlsMode::None => {
            if !is_loopback(&cfg.host) {
                bail!("imap.tls = \"none\" is only allowed for loopback hosts");
            }
            Box::new(tcp)
        }
        TlsMode::Starttls => {
            let mut client = Client::new(tcp);
            timed(t, "reading the IMAP greeting", async {
                greeting(&mut client).await
            })
            .await?;
            timed(t, "STARTTLS", async {
                client
                    .run_command_and_check_ok("STARTTLS", None)
                    .await
                    .context("STARTTLS refused")
            })
            .await?;
            let tcp = client.into_inner();
            let tls = tls_wrap(cfg, tcp).await?;
            // No second greeting after STARTTLS (RFC 3501 §6.2.1).
            return login(cfg, Client::new(Box::new(tls) as Box<dyn Io>)).await;
        }
    };
    let mut client = Client::new(stream);
    timed(t, "reading the IMAP greeting", async {
        greeting(&mut client).await
    })
    .await?;
    login(cfg, client).await
}

async fn greeting<T: AsyncRead + AsyncWrite + Unpin + Send + Debug>(
    client: &mut Client<T>,
) -> Result<()> {
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => bail!("the IMAP server closed the connection before its greeting"),
        Err(e) => Err(anyhow!(e).context("reading the IMAP greeting")),
    }
}

async fn tls_wrap(
    cfg: &ImapConfig,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let config = crate::tls::client_config(cfg.ca_file.as_deref())?;
    let name = crate::tls::server_name(&cfg.host)?;
    timed(cfg.timeout, "TLS handshake", async {
        TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .with_context(|| {
                format!(
                    "TLS handshake with IMAP {}:{} (certificate not trusted? set imap.ca_file for a private CA)",
                    cfg.host, cfg.port
                )
            })
    })
    .await
}

async fn login(cfg: &ImapConfig, client: Client<Box<dyn Io>>) -> Result<ImapSession> {
    timed(cfg.timeout, "IMAP LOGIN", async {
        client
            .login(&cfg.username, cfg.password.expose())
            .await
            .map_err(|(e, _)| anyhow!("IMAP login as {:?} failed: {e}", cfg.username))
    })
    .await
}
