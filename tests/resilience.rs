//! Overload, callers that go away, and shutdown under load: nothing half-applied, nothing
//! acknowledged lost, and an overloaded server says so at once.

mod common;

use std::time::Duration;

use common::*;
use tonic::Code;
use voucher_ledger::proto::voucher::v1 as pb;

#[tokio::test]
async fn past_the_request_limit_callers_are_told_at_once_and_nothing_breaks() {
    let server = TestServer::start_in(
        DataDir::new(),
        "2027-06-15",
        &["--concurrent-requests-max", "2"],
    )
    .await;
    let mut bureau = server.bureau().await;
    register_enterprise(&mut bureau, ENTERPRISE, "启东智算科技有限公司").await;
    register_provider(&mut bureau, COMPUTE_PROVIDER, "算力", pb::Program::Compute).await;
    let voucher = issue(&mut bureau, "v", pb::Program::Compute, None).await;
    let token = create_token(&mut bureau, pb::Role::Provider, COMPUTE_PROVIDER).await;
    let mut providers = Vec::new();
    for _ in 0..16 {
        providers.push(server.client(&token).await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for serial in 0..400u64 {
        let mut provider = providers[serial as usize % providers.len()].clone();
        let request = redeem_request(&voucher, &invoice(serial), "2027-06-01", "10");
        tasks.spawn(async move { provider.redeem(request).await });
    }
    let (mut accepted, mut overloaded) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task") {
            Ok(_) => accepted += 1,
            Err(status) => {
                assert_eq!(
                    (status.code(), reason(&status).as_str()),
                    (Code::ResourceExhausted, "OVERLOADED"),
                    "{status:?}"
                );
                overloaded += 1;
            }
        }
    }
    assert!(
        overloaded > 0,
        "400 requests at once against a limit of 2 must shed some"
    );
    assert!(accepted > 0);
    let balance = balance(&mut bureau, ENTERPRISE, pb::Program::Compute, "").await;
    assert_eq!(yuan(&balance.redeemed), format!("{}.00", accepted * 5));
    assert_verified(&mut bureau).await;
}

#[tokio::test]
async fn a_caller_that_gives_up_leaves_nothing_half_done_and_can_retry() {
    let mut world = World::new("2027-06-15").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, None).await;
    let mut tasks = tokio::task::JoinSet::new();
    for serial in 0..100u64 {
        let mut provider = world.compute_provider.clone();
        let mut request = tonic::Request::new(redeem_request(
            &voucher,
            &invoice(serial),
            "2027-06-01",
            "10",
        ));
        request.set_timeout(Duration::from_micros(300 + serial * 20));
        tasks.spawn(async move { provider.redeem(request).await });
    }
    let mut gave_up = 0;
    while let Some(joined) = tasks.join_next().await {
        if joined.expect("task").is_err() {
            gave_up += 1;
        }
    }
    world
        .server
        .bureau()
        .await
        .verify(pb::VerifyRequest {})
        .await
        .expect("verify");
    // A fresh connection: a server may close one whose client reset many streams at once
    // (HTTP/2 rapid-reset protection), which is what giving up on 100 calls looks like.
    let token = create_token(&mut world.bureau, pb::Role::Provider, COMPUTE_PROVIDER).await;
    let mut provider = world.server.client(&token).await;
    for serial in 0..100u64 {
        let retry = redeem_request(&voucher, &invoice(serial), "2027-06-01", "10");
        let redemption = provider
            .redeem(retry)
            .await
            .unwrap_or_else(|status| panic!("a retry always succeeds: {status:?}"))
            .into_inner();
        assert_eq!(yuan(&redemption.subsidy), "5.00");
    }
    let balance = balance(&mut world.bureau, ENTERPRISE, pb::Program::Compute, "").await;
    assert_eq!(
        yuan(&balance.redeemed),
        "500.00",
        "each invoice counted once, {gave_up} callers gave up"
    );
    assert_verified(&mut world.bureau).await;
}

#[tokio::test]
async fn sigterm_under_load_finishes_in_flight_work_and_restarts_cleanly() {
    let mut world = World::new("2027-06-15").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, None).await;
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8u64 {
        let mut provider = world.compute_provider.clone();
        let voucher = voucher.clone();
        tasks.spawn(async move {
            let mut acknowledged = Vec::new();
            for serial in 0..10_000u64 {
                let request = redeem_request(
                    &voucher,
                    &invoice(worker * 100_000 + serial),
                    "2027-06-01",
                    "10",
                );
                match provider.redeem(request).await {
                    Ok(response) => acknowledged.push(response.into_inner()),
                    Err(_) => break,
                }
            }
            acknowledged
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let World {
        server,
        bureau,
        compute_provider,
        robot_lessor,
    } = world;
    drop((bureau, compute_provider, robot_lessor));
    let stopping = tokio::task::spawn_blocking(move || server.stop());
    let mut acknowledged = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        acknowledged.extend(joined.expect("worker"));
    }
    let data = stopping.await.expect("voucherd exited 0 after SIGTERM");
    assert!(!acknowledged.is_empty());

    let restarted = TestServer::start_in(data, "2027-06-15", &[]).await;
    let mut bureau = restarted.bureau().await;
    for redemption in &acknowledged {
        let stored = bureau
            .get_redemption(pb::GetRedemptionRequest {
                redemption_id: redemption.redemption_id.clone(),
            })
            .await
            .expect("every acknowledged redemption is there")
            .into_inner();
        assert_eq!(&stored, redemption);
    }
    assert_verified(&mut bureau).await;
}
