//! Attacks by a client that holds a valid token and probes what is not its own (issue 12).
//! Each test plays the attacker against a real voucherd and asserts what a refusal may tell:
//! nothing of another tenant (an enterprise's code, remaining cap or voucher balance, another
//! provider's claim ids, the bureau's reasons), and the same answer for "not yours" as for
//! "does not exist", so sequential ids cannot be enumerated.

#[path = "../common/mod.rs"]
mod common;

mod auditors;
mod files;
mod identity;
mod tenants;
mod transport;

use common::tls::{Certificates, tls_channel};
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use tonic::Code;
use tonic_types::StatusExt;
use voucher_ledger::proto::voucher::v1 as pb;

/// A second compute provider, with its own token: the attacker in these tests.
const RIVAL_PROVIDER: &str = "91320600MA1MXXXX0A";

async fn rival(world: &mut World) -> Client {
    let code = code_with_check_digit(&RIVAL_PROVIDER[..17]);
    register_provider(
        &mut world.bureau,
        &code,
        "如东算力有限公司",
        pb::Program::Compute,
    )
    .await;
    let token = create_token(&mut world.bureau, pb::Role::Provider, &code).await;
    world.server.client(&token).await
}

/// What every attack must leave standing: a bureau call answered, and served, within a second.
async fn bureau_is_served_within_a_second(world: &mut World, during: &str) {
    let answered = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        world.bureau.get_balance(pb::GetBalanceRequest {
            enterprise_credit_code: ENTERPRISE.into(),
            program: pb::Program::Compute as i32,
            on_date: String::new(),
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("a bureau call answers within a second {during}"));
    if let Err(refused) = answered {
        panic!("a bureau call is served, not refused, {during}: {refused:?}");
    }
}

/// The refusal's words and reason with `id` replaced, to compare two refusals' shapes.
fn shape(status: &tonic::Status, id: &str) -> (Code, String, String) {
    (
        status.code(),
        reason(status),
        status.message().replace(id, "<id>"),
    )
}
