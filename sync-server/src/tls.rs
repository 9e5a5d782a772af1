//! HTTPS: the server serves TLS itself (rustls, ring), with a certificate
//! and key from files (a CA-issued one) or its own self-signed certificate,
//! made once at first start and kept in the data folder. Workstations pin the
//! self-signed certificate's public key (`sync-server tls fingerprint`
//! prints the pin), so the certificate needs no CA and no renewal.
//!
//! [`TlsListener`] plugs into `axum::serve`: handshakes run in tasks of
//! their own, each under a time limit, so a slow or silent client never
//! holds up the others.

use crate::ServerError;
use clinic_core::api::KeyPin;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Where the server's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// The server's own, under `<data dir>/tls/`, made at first start.
    SelfSigned,
    /// A certificate chain and its private key, both PEM.
    Files { cert: PathBuf, key: PathBuf },
}

/// The certificate chain and key the server presents, and the pin of its key.
pub struct ServerIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    pub pin: KeyPin,
}

impl std::fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIdentity")
            .field("certificates", &self.chain.len())
            .field("pin", &self.pin.to_string())
            .finish_non_exhaustive()
    }
}

fn startup(what: &Path, e: impl std::fmt::Display) -> ServerError {
    ServerError::Startup(format!("{}: {e}", what.display()))
}

impl ServerIdentity {
    /// The identity `source` names; the self-signed one is made on first use.
    pub fn load(source: &TlsSource, data_dir: &Path) -> Result<Self, ServerError> {
        match source {
            TlsSource::Files { cert, key } => Self::from_files(cert, key),
            TlsSource::SelfSigned => Self::self_signed(data_dir),
        }
    }

    /// A CA-issued (or any) certificate chain and key, PEM files.
    pub fn from_files(cert: &Path, key: &Path) -> Result<Self, ServerError> {
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| startup(cert, e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| startup(cert, e))?;
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| startup(key, e))?;
        let leaf = chain
            .first()
            .ok_or_else(|| startup(cert, "no certificate in the file"))?;
        let pin = KeyPin::of_certificate(leaf).map_err(|e| startup(cert, e.message))?;
        let identity = Self {
            chain,
            key: key_der,
            pin,
        };
        // Refuse a key that does not belong to the certificate now, not at
        // the first handshake.
        identity.server_config().map_err(|e| startup(cert, e))?;
        Ok(identity)
    }

    /// The server's own certificate under `<data_dir>/tls/`, made (with a
    /// new P-256 key) when there is none yet.
    pub fn self_signed(data_dir: &Path) -> Result<Self, ServerError> {
        let dir = data_dir.join("tls");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        if !cert.exists() || !key.exists() {
            std::fs::create_dir_all(&dir).map_err(|e| startup(&dir, e))?;
            let mut names = vec![
                "localhost".to_string(),
                "127.0.0.1".to_string(),
                "::1".to_string(),
            ];
            if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
                let host = host.trim();
                if !host.is_empty() && host != "localhost" {
                    names.push(host.to_string());
                }
            }
            let made = rcgen::generate_simple_self_signed(names)
                .map_err(|e| ServerError::Startup(format!("making a certificate: {e}")))?;
            crate::embedded::write_secret(&key, &made.key_pair.serialize_pem())?;
            crate::embedded::write_secret(&cert, &made.cert.pem())?;
            tracing::info!(path = %cert.display(), "made the server's own TLS certificate");
        }
        Self::from_files(&cert, &key)
    }

    /// The rustls configuration serving this identity (HTTP/1.1, TLS 1.2
    /// and 1.3, ring).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, ServerError> {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Startup(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(self.chain.clone(), self.key.clone_key())
        .map_err(|e| ServerError::Startup(format!("the key does not fit the certificate: {e}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The most TLS handshakes in progress at once; further connections wait
/// in the kernel's accept queue.
pub const MAX_HANDSHAKES: usize = 256;
/// A client that has not finished its handshake by then is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP listener whose connections come out TLS-terminated.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let tls = TlsAcceptor::from(config);
        let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
        let acceptor = tokio::spawn(async move {
            loop {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let (stream, addr) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, as axum does.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                let (tls, tx) = (tls.clone(), tx.clone());
                tokio::spawn(async move {
                    let _slot = slot;
                    let _ = stream.set_nodelay(true);
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                        Ok(Ok(conn)) => {
                            let _ = tx.send((conn, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self {
            ready,
            local,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_own_certificate_is_made_once_and_its_pin_stays() {
        let dir = tempfile::tempdir().unwrap();
        let first = ServerIdentity::self_signed(dir.path()).unwrap();
        let again = ServerIdentity::self_signed(dir.path()).unwrap();
        assert_eq!(first.pin, again.pin, "kept in the data folder");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("tls/key.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the private key is the owner's only");
        }
        let other = tempfile::tempdir().unwrap();
        assert_ne!(
            ServerIdentity::self_signed(other.path()).unwrap().pin,
            first.pin
        );
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused_at_start() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        ServerIdentity::self_signed(a.path()).unwrap();
        ServerIdentity::self_signed(b.path()).unwrap();
        let e = ServerIdentity::from_files(
            &a.path().join("tls/cert.pem"),
            &b.path().join("tls/key.pem"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("does not fit"), "{e}");
        let e = ServerIdentity::from_files(
            &a.path().join("nothing.pem"),
            &a.path().join("tls/key.pem"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("nothing.pem"), "{e}");
    }
}
