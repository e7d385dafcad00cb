//! Who may take part, as the bureau registers them: `register-enterprise`, `get-enterprise`,
//! `register-provider`, `create-token` (for the bureau, whole or scoped to programs, a
//! provider, an auditor, an enterprise or the finance bureau), `revoke-token` and `related-parties`, with the records they print. A
//! provider's own record, with its access, is `provider`'s.

use clap::{Args, ValueEnum};
use voucher_ledger::client::{Record, Value, optional, text};
use voucher_ledger::proto::voucher::v1 as pb;

use crate::Failure;
use crate::arguments::{ProgramArgument, parse_code};
use crate::connect::Client;
use crate::output::{Output, emit};
use crate::provider::provider_record;

#[derive(Args, Debug)]
pub struct RegisterEnterprise {
    /// 统一社会信用代码, 18 characters.
    #[arg(long)]
    #[arg(value_parser = parse_code)]
    credit_code: String,
    #[arg(long)]
    name: String,
    /// Why to accept a code whose check digit is wrong.
    #[arg(long, value_name = "REASON")]
    override_reason: Option<String>,
}

impl RegisterEnterprise {
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::RegisterEnterpriseRequest {
            credit_code: self.credit_code,
            name: self.name,
            check_digit_override_reason: self.override_reason.unwrap_or_default(),
        };
        let reply = client.register_enterprise(request).await?.into_inner();
        output.record(&enterprise_record(&reply));
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct GetEnterprise {
    #[arg(value_parser = parse_code)]
    credit_code: String,
}

impl GetEnterprise {
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::GetEnterpriseRequest {
            credit_code: self.credit_code,
        };
        let reply = client.get_enterprise(request).await?.into_inner();
        output.record(&enterprise_record(&reply));
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct RegisterProvider {
    /// 统一社会信用代码, 18 characters.
    #[arg(long)]
    #[arg(value_parser = parse_code)]
    credit_code: String,
    #[arg(long)]
    name: String,
    /// The one program this provider may redeem vouchers of.
    #[arg(long)]
    program: ProgramArgument,
    /// Why to accept a code whose check digit is wrong.
    #[arg(long, value_name = "REASON")]
    override_reason: Option<String>,
}

impl RegisterProvider {
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::RegisterProviderRequest {
            credit_code: self.credit_code,
            name: self.name,
            program: self.program.wire(),
            check_digit_override_reason: self.override_reason.unwrap_or_default(),
        };
        let reply = client.register_provider(request).await?.into_inner();
        output.record(&provider_record(&reply));
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct CreateToken {
    #[arg(long)]
    role: RoleArgument,
    /// The provider the token speaks for: required with --role provider, refused otherwise.
    #[arg(long, value_name = "CREDIT_CODE")]
    provider: Option<String>,
    /// The enterprise the token speaks for: required with --role enterprise, refused
    /// otherwise.
    #[arg(long, value_name = "CREDIT_CODE")]
    enterprise: Option<String>,
    /// With --role bureau only: a program the token acts in (issues, revokes, reviews,
    /// settles and reads); repeat for several. Default: every program. A token scoped to
    /// programs makes only tokens within them.
    #[arg(long = "program", value_name = "PROGRAM")]
    programs: Vec<ProgramArgument>,
    /// Who holds the token and why, for the audit trail.
    #[arg(long)]
    description: Option<String>,
}

impl CreateToken {
    /// `--provider` goes with `--role provider` and only with it, `--enterprise` with
    /// `--role enterprise`, `--program` with `--role bureau`: checked before dialling.
    pub fn check_usage(&self) -> Result<(), Failure> {
        let usage = |message: &str| Err(Failure::Usage(message.to_owned()));
        if !self.programs.is_empty() && self.role != RoleArgument::Bureau {
            return usage("--program goes only with --role bureau");
        }
        match (self.role, &self.provider, &self.enterprise) {
            (RoleArgument::Provider, None, _) => {
                usage("--role provider needs --provider <CREDIT_CODE>")
            }
            (RoleArgument::Enterprise, _, None) => {
                usage("--role enterprise needs --enterprise <CREDIT_CODE>")
            }
            (role, Some(_), _) if role != RoleArgument::Provider => {
                usage("--provider goes only with --role provider")
            }
            (role, _, Some(_)) if role != RoleArgument::Enterprise => {
                usage("--enterprise goes only with --role enterprise")
            }
            _ => Ok(()),
        }
    }

    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::CreateTokenRequest {
            role: self.role.wire(),
            provider_credit_code: self.provider.unwrap_or_default(),
            description: self.description.unwrap_or_default(),
            enterprise_credit_code: self.enterprise.unwrap_or_default(),
            programs: self
                .programs
                .into_iter()
                .map(ProgramArgument::wire)
                .collect(),
        };
        let reply = client.create_token(request).await?.into_inner();
        output.record(&created_token_record(&reply));
        let warning =
            "note: the token is shown once; the ledger keeps only its SHA-256. Store it now.";
        if output.json {
            eprintln!("{warning}");
        } else {
            emit(&format!("{warning}\n"));
        }
        Ok(())
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleArgument {
    /// 数据局 / 科技局 operators: everything (with --program, within those programs).
    Bureau,
    /// A provider, bound to its own credit code (needs --provider).
    Provider,
    /// 审计: every query, no change.
    Auditor,
    /// An enterprise, bound to its own credit code (needs --enterprise): applies for
    /// vouchers, confirms or disputes the claims made in its name.
    Enterprise,
    /// 财政局: every query, and records that statements were paid (`settlement pay`); the
    /// only role that does when the policy separates duties.
    Finance,
}

impl RoleArgument {
    fn wire(self) -> i32 {
        let role = match self {
            RoleArgument::Bureau => pb::Role::Bureau,
            RoleArgument::Provider => pb::Role::Provider,
            RoleArgument::Auditor => pb::Role::Auditor,
            RoleArgument::Enterprise => pb::Role::Enterprise,
            RoleArgument::Finance => pb::Role::Finance,
        };
        role as i32
    }
}

#[derive(Args, Debug)]
pub struct RevokeToken {
    #[arg(value_parser = parse_code)]
    token_id: String,
}

impl RevokeToken {
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::RevokeTokenRequest {
            token_id: self.token_id.clone(),
        };
        client.revoke_token(request).await?;
        output.record(&revoked_token_record(&self.token_id));
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct RelatedParties {
    #[arg(long, value_name = "CREDIT_CODE")]
    provider: String,
    #[arg(long, value_name = "CREDIT_CODE")]
    enterprise: String,
    #[arg(long)]
    reason: String,
}

impl RelatedParties {
    pub async fn run(self, client: &mut Client, output: &Output) -> Result<(), Failure> {
        let request = pb::RecordRelatedPartiesRequest {
            provider_credit_code: self.provider,
            enterprise_credit_code: self.enterprise,
            reason: self.reason,
        };
        let reply = client.record_related_parties(request).await?.into_inner();
        output.record(&related_parties_record(&reply));
        Ok(())
    }
}

fn enterprise_record(message: &pb::Enterprise) -> Record {
    vec![
        ("credit_code", text(&message.credit_code)),
        ("name", text(&message.name)),
        ("check_digit_valid", Value::Flag(message.check_digit_valid)),
        (
            "check_digit_override_reason",
            optional(&message.check_digit_override_reason),
        ),
        ("registered_at", Value::Time(message.registered_at)),
    ]
}

fn created_token_record(message: &pb::CreateTokenResponse) -> Record {
    vec![
        ("token_id", text(&message.token_id)),
        ("token", text(&message.token)),
    ]
}

fn revoked_token_record(token_id: &str) -> Record {
    vec![("token_id", text(token_id)), ("revoked", Value::Flag(true))]
}

fn related_parties_record(message: &pb::RelatedParties) -> Record {
    vec![
        ("provider_credit_code", text(&message.provider_credit_code)),
        (
            "enterprise_credit_code",
            text(&message.enterprise_credit_code),
        ),
        ("reason", text(&message.reason)),
        ("recorded_at", Value::Time(message.recorded_at)),
    ]
}
