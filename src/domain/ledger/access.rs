//! Provider access (see SECURITY.md): the bureau suspends and reinstates a provider, and pins or
//! revokes the client certificates that identify it. Deciding and applying both live here;
//! the check itself is [`ProviderAccess::admits`], which `api` runs on every request.

use super::decide::Decision;
use super::{Ledger, Target, unknown_credit_code};
use crate::domain::credit_code::CreditCode;
use crate::domain::dates::Clock;
use crate::domain::error::LedgerError;
use crate::domain::event::Event;
use crate::domain::model::{Provider, ProviderAccess, Sha256Hex, Suspension};
use crate::domain::reason::ReasonCode;
use crate::domain::text::Reason;

impl Ledger {
    fn registered_provider(&self, code: CreditCode) -> Result<&Provider, LedgerError> {
        self.providers
            .get(&code)
            .ok_or_else(|| unknown_credit_code(&code, "provider_credit_code", "provider"))
    }

    /// Suspending a suspended provider changes nothing (its first reason stays).
    pub(super) fn decide_suspend(
        &self,
        code: CreditCode,
        reason: &Reason,
        clock: Clock,
    ) -> Decision {
        let provider = self.registered_provider(code)?;
        if provider.access.is_suspended() {
            return Ok((Vec::new(), Target::Provider(code)));
        }
        let event = Event::ProviderSuspended {
            provider_credit_code: code,
            reason: reason.clone(),
            at: clock.now,
        };
        Ok((vec![event], Target::Provider(code)))
    }

    pub(super) fn decide_reinstate(&self, code: CreditCode, clock: Clock) -> Decision {
        let provider = self.registered_provider(code)?;
        if !provider.access.is_suspended() {
            return Ok((Vec::new(), Target::Provider(code)));
        }
        let event = Event::ProviderReinstated {
            provider_credit_code: code,
            at: clock.now,
        };
        Ok((vec![event], Target::Provider(code)))
    }

    /// A revoked certificate is never pinned again: a new key gets a new certificate.
    pub(super) fn decide_pin_certificate(
        &self,
        code: CreditCode,
        certificate: &Sha256Hex,
        clock: Clock,
    ) -> Decision {
        let access = &self.registered_provider(code)?.access;
        if access.revoked_certificates.contains(certificate) {
            return Err(LedgerError::refused(
                ReasonCode::CertificateRevoked,
                format!(
                    "certificate {} was revoked for provider {code}; it cannot be pinned again",
                    certificate.as_str()
                ),
            ));
        }
        if access.pinned_certificates.contains(certificate) {
            return Ok((Vec::new(), Target::Provider(code)));
        }
        let event = Event::ProviderCertificatePinned {
            provider_credit_code: code,
            certificate_sha256: certificate.clone(),
            at: clock.now,
        };
        Ok((vec![event], Target::Provider(code)))
    }

    pub(super) fn decide_revoke_certificate(
        &self,
        code: CreditCode,
        certificate: &Sha256Hex,
        clock: Clock,
    ) -> Decision {
        let access = &self.registered_provider(code)?.access;
        if access.revoked_certificates.contains(certificate) {
            return Ok((Vec::new(), Target::Provider(code)));
        }
        let event = Event::ProviderCertificateRevoked {
            provider_credit_code: code,
            certificate_sha256: certificate.clone(),
            at: clock.now,
        };
        Ok((vec![event], Target::Provider(code)))
    }

    /// Applies one of the four access events; any other event is not this module's.
    pub(super) fn apply_access(&mut self, event: &Event) {
        match event {
            Event::ProviderSuspended {
                provider_credit_code,
                reason,
                at,
            } => self.change_access(*provider_credit_code, |access| {
                assert!(access.suspension.is_none(), "suspended twice");
                access.suspension = Some(Suspension {
                    reason: reason.clone(),
                    at: *at,
                });
            }),
            Event::ProviderReinstated {
                provider_credit_code,
                at,
            } => self.change_access(*provider_credit_code, |access| {
                let suspension = access.suspension.take();
                assert!(
                    suspension.is_some_and(|suspension| suspension.at <= *at),
                    "reinstated without a suspension before it"
                );
            }),
            Event::ProviderCertificatePinned {
                provider_credit_code,
                certificate_sha256,
                ..
            } => self.change_access(*provider_credit_code, |access| {
                assert!(!access.revoked_certificates.contains(certificate_sha256));
                assert!(
                    access
                        .pinned_certificates
                        .insert(certificate_sha256.clone())
                );
            }),
            Event::ProviderCertificateRevoked {
                provider_credit_code,
                certificate_sha256,
                ..
            } => self.change_access(*provider_credit_code, |access| {
                access.pinned_certificates.remove(certificate_sha256);
                assert!(
                    access
                        .revoked_certificates
                        .insert(certificate_sha256.clone())
                );
            }),
            other => unreachable!("{} is not an access event", other.name()),
        }
    }

    fn change_access(&mut self, code: CreditCode, change: impl FnOnce(&mut ProviderAccess)) {
        let provider = self
            .providers
            .get_mut(&code)
            .unwrap_or_else(|| panic!("an access event for unregistered provider {code}"));
        change(&mut provider.access);
    }
}
