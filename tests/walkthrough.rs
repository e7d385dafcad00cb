//! The README walkthrough over the wire, the standard services beside it, and state
//! surviving restarts (clean and kill -9).

mod common;

use common::*;
use tokio_stream::StreamExt;
use voucher_ledger::proto::voucher::v1 as pb;

#[tokio::test]
async fn register_issue_redeem_and_read_the_balance() {
    let server = TestServer::start("2027-06-15").await;
    let mut bureau = server.bureau().await;
    let enterprise = register_enterprise(&mut bureau, ENTERPRISE, "启东智算科技有限公司").await;
    assert!(enterprise.check_digit_valid);
    register_provider(
        &mut bureau,
        COMPUTE_PROVIDER,
        "南通算力服务有限公司",
        pb::Program::Compute,
    )
    .await;
    let provider_token = create_token(&mut bureau, pb::Role::Provider, COMPUTE_PROVIDER).await;
    let mut provider = server.client(&provider_token).await;

    let voucher = issue(&mut bureau, "walkthrough-1", pb::Program::Compute, None).await;
    assert_eq!(
        (voucher.valid_from.as_str(), voucher.valid_until.as_str()),
        ("2027-01-01", "2027-12-31")
    );
    assert_eq!(yuan(&voucher.face_value), "2000000.00");
    assert_eq!(voucher.redeem_by, "2028-03-30");
    assert_eq!(voucher.status, pb::VoucherStatus::Active as i32);

    let redemption = provider
        .redeem(redeem_request(
            &voucher,
            &invoice(1),
            "2027-06-01",
            "10000.00",
        ))
        .await
        .expect("redeemed")
        .into_inner();
    assert_eq!(yuan(&redemption.subsidy), "5000.00");
    assert_eq!(yuan(&redemption.computed_subsidy), "5000.00");
    assert_eq!(redemption.provider_credit_code, COMPUTE_PROVIDER);
    assert_eq!(redemption.status, pb::RedemptionStatus::Accepted as i32);

    let balance = balance(&mut bureau, ENTERPRISE, pb::Program::Compute, "").await;
    assert_eq!(
        (balance.period_start.as_str(), balance.period_end.as_str()),
        ("2027-01-01", "2027-12-31")
    );
    assert_eq!(yuan(&balance.cap), "2000000.00");
    assert_eq!(yuan(&balance.committed), "2000000.00");
    assert_eq!(yuan(&balance.redeemed), "5000.00");
    assert_eq!(yuan(&balance.available_to_issue), "0.00");
    assert_eq!(yuan(&balance.outstanding), "1995000.00");
    assert_eq!(balance.redeemed_by_year.len(), 1);
    assert_eq!(balance.redeemed_by_year[0].year, 2027);

    let voucher_now = get_voucher(&mut bureau, &voucher.voucher_id).await;
    assert_eq!(yuan(&voucher_now.remaining), "1995000.00");
    let listed = provider
        .list_redemptions(pb::ListRedemptionsRequest::default())
        .await
        .expect("provider lists its own")
        .into_inner();
    assert_eq!(listed.redemptions, vec![redemption]);
}

#[tokio::test]
async fn health_and_reflection_are_served_beside_the_ledger() {
    let server = TestServer::start("2027-06-15").await;
    let channel = server.channel().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "voucher.v1.VoucherLedger".to_owned(),
        })
        .await
        .expect("health answers")
        .into_inner();
    assert_eq!(
        serving.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(channel);
    let questions = [
        MessageRequest::ListServices(String::new()),
        MessageRequest::FileContainingSymbol("voucher.v1.VoucherLedger".to_owned()),
        MessageRequest::FileByFilename("google/type/money.proto".to_owned()),
        MessageRequest::FileByFilename("google/protobuf/timestamp.proto".to_owned()),
    ];
    let requests = questions.map(|question| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(question),
    });
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .expect("reflection answers")
        .into_inner();
    let mut responses = Vec::new();
    while let Some(answer) = answers.next().await {
        responses.push(
            answer
                .expect("an answer")
                .message_response
                .expect("a response"),
        );
    }
    assert_eq!(responses.len(), 4);
    let MessageResponse::ListServicesResponse(services) = &responses[0] else {
        panic!("{:?}", responses[0])
    };
    let names: Vec<&str> = services
        .service
        .iter()
        .map(|service| service.name.as_str())
        .collect();
    assert!(names.contains(&"voucher.v1.VoucherLedger"), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
    for response in &responses[1..] {
        let MessageResponse::FileDescriptorResponse(files) = response else {
            panic!("{response:?}")
        };
        assert!(!files.file_descriptor_proto.is_empty());
    }

    // As grpcurl asks: one question on a stream it keeps open, the answer read before it
    // closes the stream.
    let (ask, questions) = tokio::sync::mpsc::channel(1);
    ask.send(ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    })
    .await
    .expect("queued");
    let mut open_stream = reflection
        .server_reflection_info(tokio_stream::wrappers::ReceiverStream::new(questions))
        .await
        .expect("reflection answers on an open stream")
        .into_inner();
    let first = tokio::time::timeout(std::time::Duration::from_secs(2), open_stream.next())
        .await
        .expect("answered while the stream is still open");
    assert!(matches!(
        first,
        Some(Ok(answer)) if matches!(answer.message_response, Some(MessageResponse::ListServicesResponse(_)))
    ));
    drop(ask);
}

/// A fixed history, and what the bureau reads back after it.
async fn write_history(world: &mut World) -> (pb::Voucher, pb::Redemption, pb::Balance) {
    let voucher = issue(
        &mut world.bureau,
        "restart-1",
        pb::Program::Leasing,
        Some("50000"),
    )
    .await;
    let redemption = world
        .robot_lessor
        .redeem(redeem_request(
            &voucher,
            &invoice(7),
            "2027-06-10",
            "12345.67",
        ))
        .await
        .expect("redeemed")
        .into_inner();
    assert_eq!(yuan(&redemption.subsidy), "2469.13");
    let balance = balance(&mut world.bureau, ENTERPRISE, pb::Program::Leasing, "").await;
    let voucher = get_voucher(&mut world.bureau, &voucher.voucher_id).await;
    (voucher, redemption, balance)
}

async fn read_back(
    server: &TestServer,
    voucher_id: &str,
    redemption_id: &str,
) -> (pb::Voucher, pb::Redemption, pb::Balance) {
    let mut bureau = server.bureau().await;
    let voucher = get_voucher(&mut bureau, voucher_id).await;
    let redemption = bureau
        .get_redemption(pb::GetRedemptionRequest {
            redemption_id: redemption_id.to_owned(),
        })
        .await
        .expect("redemption survives")
        .into_inner();
    let balance = balance(&mut bureau, ENTERPRISE, pb::Program::Leasing, "").await;
    (voucher, redemption, balance)
}

#[tokio::test]
async fn state_survives_a_clean_restart_and_a_kill() {
    let mut world = World::new("2027-06-15").await;
    let before = write_history(&mut world).await;
    let token = world.server.bureau_token.clone();
    let World {
        server,
        bureau,
        compute_provider,
        robot_lessor,
    } = world;
    drop((bureau, compute_provider, robot_lessor));

    let data = server.stop();
    let restarted = TestServer::start_in(data, "2027-06-15", &[]).await;
    assert_eq!(
        restarted.bureau_token, token,
        "the bureau token is written once, at first start"
    );
    let after_stop = read_back(&restarted, &before.0.voucher_id, &before.1.redemption_id).await;
    assert_eq!(after_stop, before);

    let data = restarted.kill();
    let after_kill_server = TestServer::start_in(data, "2027-06-15", &[]).await;
    let after_kill = read_back(
        &after_kill_server,
        &before.0.voucher_id,
        &before.1.redemption_id,
    )
    .await;
    assert_eq!(after_kill, before);

    // The ledger still takes writes after the kill, and the invoice is still used.
    let mut bureau = after_kill_server.bureau().await;
    let mut retry = redeem_request(&before.0, &invoice(7), "2027-06-10", "12345.67");
    retry.provider_credit_code = ROBOT_LESSOR.to_owned();
    let replay = bureau
        .redeem(retry)
        .await
        .expect("a retry returns the first")
        .into_inner();
    assert_eq!(replay, before.1);
}

#[tokio::test]
async fn a_second_voucherd_on_the_same_data_is_refused() {
    skip_on_postgres!("sled's lock on its directory; on PostgreSQL a second voucherd is a standby");
    let server = TestServer::start("2027-06-15").await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_voucherd"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(server.data().path())
        .output_within_deadline()
        .expect("runs");
    assert!(
        !output.status.success(),
        "a second writer must not open the same ledger"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot open the ledger"));
}
