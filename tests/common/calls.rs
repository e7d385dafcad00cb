//! The gRPC calls most tests make, each asserting it succeeded: registering, tokens, issuing,
//! redeeming, and reading balances, summaries and vouchers.

use super::*;

pub async fn register_enterprise(bureau: &mut Client, code: &str, name: &str) -> pb::Enterprise {
    bureau
        .register_enterprise(pb::RegisterEnterpriseRequest {
            credit_code: code.to_owned(),
            name: name.to_owned(),
            ..Default::default()
        })
        .await
        .expect("enterprise registered")
        .into_inner()
}

pub async fn register_provider(
    bureau: &mut Client,
    code: &str,
    name: &str,
    program: pb::Program,
) -> pb::Provider {
    bureau
        .register_provider(pb::RegisterProviderRequest {
            credit_code: code.to_owned(),
            name: name.to_owned(),
            program: program as i32,
            ..Default::default()
        })
        .await
        .expect("provider registered")
        .into_inner()
}

/// Creates a token and returns its secret.
pub async fn create_token(bureau: &mut Client, role: pb::Role, provider: &str) -> String {
    bureau
        .create_token(pb::CreateTokenRequest {
            role: role as i32,
            provider_credit_code: provider.to_owned(),
            description: "test".to_owned(),
            ..Default::default()
        })
        .await
        .expect("token created")
        .into_inner()
        .token
}

/// Creates a token for `enterprise` and returns its secret.
pub async fn create_enterprise_token(bureau: &mut Client, enterprise: &str) -> String {
    bureau
        .create_token(pb::CreateTokenRequest {
            role: pb::Role::Enterprise as i32,
            enterprise_credit_code: enterprise.to_owned(),
            description: "test enterprise".to_owned(),
            ..Default::default()
        })
        .await
        .expect("enterprise token created")
        .into_inner()
        .token
}

pub fn issue_request(
    request_id: &str,
    enterprise: &str,
    program: pb::Program,
    face_value: Option<&str>,
) -> pb::IssueVoucherRequest {
    pb::IssueVoucherRequest {
        request_id: request_id.to_owned(),
        enterprise_credit_code: enterprise.to_owned(),
        program: program as i32,
        face_value: face_value.map(cny),
        ..Default::default()
    }
}

pub async fn issue(
    bureau: &mut Client,
    request_id: &str,
    program: pb::Program,
    face_value: Option<&str>,
) -> pb::Voucher {
    bureau
        .issue_voucher(issue_request(request_id, ENTERPRISE, program, face_value))
        .await
        .expect("voucher issued")
        .into_inner()
}

pub fn redeem_request(
    voucher: &pb::Voucher,
    invoice_number: &str,
    date: &str,
    amount: &str,
) -> pb::RedeemRequest {
    pb::RedeemRequest {
        voucher_id: voucher.voucher_id.clone(),
        enterprise_credit_code: voucher.enterprise_credit_code.clone(),
        invoice_number: invoice_number.to_owned(),
        invoice_date: date.to_owned(),
        invoice_amount: Some(cny(amount)),
        ..Default::default()
    }
}

/// Redeems one invoice per serial on `voucher`, each for `amount` on 2027-06-01.
pub async fn redeem_each(
    provider: &mut Client,
    voucher: &pb::Voucher,
    serials: std::ops::RangeInclusive<u64>,
    amount: &str,
) {
    for serial in serials {
        provider
            .redeem(redeem_request(
                voucher,
                &invoice(serial),
                "2027-06-01",
                amount,
            ))
            .await
            .expect("redeemed");
    }
}

pub async fn balance(
    bureau: &mut Client,
    enterprise: &str,
    program: pb::Program,
    on_date: &str,
) -> pb::Balance {
    bureau
        .get_balance(pb::GetBalanceRequest {
            enterprise_credit_code: enterprise.to_owned(),
            program: program as i32,
            on_date: on_date.to_owned(),
        })
        .await
        .expect("balance")
        .into_inner()
}

/// The program's summary for the cap period holding today.
pub async fn program_summary(
    client: &mut Client,
    program: pb::Program,
) -> pb::ProgramSummaryResponse {
    client
        .program_summary(pb::ProgramSummaryRequest {
            program: program as i32,
            on_date: String::new(),
        })
        .await
        .expect("summary")
        .into_inner()
}

pub async fn get_voucher(bureau: &mut Client, voucher_id: &str) -> pb::Voucher {
    bureau
        .get_voucher(pb::GetVoucherRequest {
            voucher_id: voucher_id.to_owned(),
        })
        .await
        .expect("voucher")
        .into_inner()
}
