//! `voucherctl provider …`: a provider's access (issue 12). The bureau suspends and reinstates
//! a provider, and pins or revokes its client certificates by SHA-256 fingerprint; the bureau
//! and auditors read it back with `provider show`. The provider's record, which
//! `register-provider` prints too, is here: most of it is its access.

use clap::{Args, Subcommand};
use voucher_ledger::client::{Record, Value, optional, program_word, text};
use voucher_ledger::proto::voucher::v1 as pb;

use crate::Failure;
use crate::arguments::parse_code;
use crate::connect::Client;
use crate::output::Output;

#[derive(Subcommand, Debug)]
pub enum ProviderCommand {
    /// A provider with its access: suspension, pinned and revoked certificates (bureau,
    /// auditor, finance).
    Show {
        #[arg(value_name = "CREDIT_CODE")]
        #[arg(value_parser = parse_code)]
        credit_code: String,
    },
    /// Suspend a provider: every request it makes is refused, with a token or a certificate,
    /// and no claim for it is accepted, until it is reinstated (bureau).
    Suspend {
        #[arg(value_name = "CREDIT_CODE")]
        #[arg(value_parser = parse_code)]
        credit_code: String,
        /// Why: shown to the bureau and auditors, never to the provider.
        #[arg(long)]
        reason: String,
    },
    /// Lift a provider's suspension (bureau).
    Reinstate {
        #[arg(value_name = "CREDIT_CODE")]
        #[arg(value_parser = parse_code)]
        credit_code: String,
    },
    /// Pin a client certificate: once one is pinned, only pinned certificates identify the
    /// provider over mutual TLS (bureau).
    PinCertificate(CertificateArguments),
    /// Revoke a client certificate: it never identifies the provider again (bureau).
    RevokeCertificate(CertificateArguments),
}

#[derive(Args, Debug)]
pub struct CertificateArguments {
    #[arg(value_name = "CREDIT_CODE")]
    #[arg(value_parser = parse_code)]
    credit_code: String,
    /// The SHA-256 of the certificate's DER bytes, as `openssl x509 -noout -fingerprint
    /// -sha256 -in cert.pem` prints it (colons allowed).
    #[arg(long, value_name = "HEX")]
    sha256: String,
}

impl CertificateArguments {
    fn request(self) -> pb::ProviderCertificateRequest {
        pb::ProviderCertificateRequest {
            credit_code: self.credit_code,
            certificate_sha256: self.sha256,
        }
    }
}

pub async fn run(
    command: ProviderCommand,
    client: &mut Client,
    output: &Output,
) -> Result<(), Failure> {
    let provider = match command {
        ProviderCommand::Show { credit_code } => {
            let request = pb::GetProviderRequest { credit_code };
            client.get_provider(request).await?
        }
        ProviderCommand::Suspend {
            credit_code,
            reason,
        } => {
            let request = pb::SuspendProviderRequest {
                credit_code,
                reason,
            };
            client.suspend_provider(request).await?
        }
        ProviderCommand::Reinstate { credit_code } => {
            let request = pb::ReinstateProviderRequest { credit_code };
            client.reinstate_provider(request).await?
        }
        ProviderCommand::PinCertificate(arguments) => {
            client.pin_provider_certificate(arguments.request()).await?
        }
        ProviderCommand::RevokeCertificate(arguments) => {
            client
                .revoke_provider_certificate(arguments.request())
                .await?
        }
    };
    output.record(&provider_record(&provider.into_inner()));
    Ok(())
}

pub fn provider_record(message: &pb::Provider) -> Record {
    vec![
        ("credit_code", text(&message.credit_code)),
        ("name", text(&message.name)),
        ("program", Value::Text(program_word(message.program))),
        ("check_digit_valid", Value::Flag(message.check_digit_valid)),
        (
            "check_digit_override_reason",
            optional(&message.check_digit_override_reason),
        ),
        ("registered_at", Value::Time(message.registered_at)),
        ("suspended", Value::Flag(message.suspension.is_some())),
        (
            "suspension_reason",
            optional(
                message
                    .suspension
                    .as_ref()
                    .map_or("", |suspension| suspension.reason.as_str()),
            ),
        ),
        (
            "suspended_at",
            Value::Time(
                message
                    .suspension
                    .as_ref()
                    .and_then(|suspension| suspension.suspended_at),
            ),
        ),
        (
            "pinned_certificate_sha256",
            optional(&message.pinned_certificate_sha256.join(", ")),
        ),
        (
            "revoked_certificate_sha256",
            optional(&message.revoked_certificate_sha256.join(", ")),
        ),
    ]
}
