//! The enterprise's part (issue 14), through a real voucherd: its token and what it may read,
//! applications and the vouchers issued on them, vouchers bound to providers (and the attack
//! that binding closes), confirmation and dispute, return for correction, public notices, and
//! all of it surviving a restart and passing verify.

#[path = "../common/mod.rs"]
mod common;

mod applications;
mod binding;

use common::*;
use tonic::Code;
use voucher_ledger::proto::voucher::v1 as pb;

/// A second compute provider, with no relation to the enterprise.
const STRANGER: &str = "91320681MA1X8K2G6N";

fn application(request_id: &str, contract: &str, amount: &str) -> pb::ApplyForVoucherRequest {
    pb::ApplyForVoucherRequest {
        request_id: request_id.to_owned(),
        program: pb::Program::Compute as i32,
        amount: Some(cny(amount)),
        provider_credit_codes: vec![COMPUTE_PROVIDER.to_owned()],
        contract_number: contract.to_owned(),
        contract_sha256: "ab".repeat(32),
        purpose: "训练启东港口调度大模型".to_owned(),
        other_subsidies: String::new(),
        enterprise_credit_code: String::new(),
    }
}

async fn enterprise_client(world: &mut World, code: &str) -> Client {
    let token = create_enterprise_token(&mut world.bureau, code).await;
    world.server.client(&token).await
}

async fn stranger_provider(world: &mut World) -> Client {
    let code = code_with_check_digit(&STRANGER[..17]);
    register_provider(
        &mut world.bureau,
        &code,
        "无关算力公司",
        pb::Program::Compute,
    )
    .await;
    let token = create_token(&mut world.bureau, pb::Role::Provider, &code).await;
    world.server.client(&token).await
}

fn bound_issue(request_id: &str, provider: &str, face_value: &str) -> pb::IssueVoucherRequest {
    pb::IssueVoucherRequest {
        provider_credit_codes: vec![provider.to_owned()],
        ..issue_request(
            request_id,
            ENTERPRISE,
            pb::Program::Compute,
            Some(face_value),
        )
    }
}
