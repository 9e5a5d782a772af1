//! Trust in a server through its pinned public key instead of a CA: the
//! certificate's key must hash to the pin; names, issuers and dates are not
//! asked (the pin is the trust, as with SSH's known hosts). The handshake's
//! signatures are still verified, so only the key's holder passes.

use clinic_core::api::KeyPin;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub(crate) struct PinnedKey(Arc<Verifier>);

#[derive(Debug)]
struct Verifier {
    pin: KeyPin,
    provider: Arc<CryptoProvider>,
    /// The key a server presented that was not the pinned one (for the message).
    mismatch: Mutex<Option<KeyPin>>,
}

impl PinnedKey {
    pub(crate) fn new(pin: KeyPin) -> Self {
        Self(Arc::new(Verifier {
            pin,
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            mismatch: Mutex::new(None),
        }))
    }

    pub(crate) fn pin(&self) -> KeyPin {
        self.0.pin
    }

    /// The last key that failed the pin, if any.
    pub(crate) fn mismatch(&self) -> Option<KeyPin> {
        *self.0.mismatch.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn client_config(&self) -> rustls::ClientConfig {
        rustls::ClientConfig::builder_with_provider(self.0.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(self.0.clone())
            .with_no_client_auth()
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = KeyPin::of_certificate(end_entity).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        if seen == self.pin {
            return Ok(ServerCertVerified::assertion());
        }
        *self.mismatch.lock().unwrap_or_else(|e| e.into_inner()) = Some(seen);
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::ApplicationVerificationFailure,
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
