//! Attacks by a client that holds a valid token and probes what is not its own (issue 12).
//! Each test plays the attacker against a real voucherd and asserts what a refusal may tell:
//! nothing of another tenant (an enterprise's code, remaining cap or voucher balance, another
//! provider's claim ids, the bureau's reasons), and the same answer for "not yours" as for
//! "does not exist", so sequential ids cannot be enumerated.

mod common;

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

#[tokio::test]
async fn a_voucher_of_another_enterprise_looks_like_no_voucher_at_all() {
    let mut world = World::new("2027-06-15").await;
    register_enterprise(&mut world.bureau, OTHER_ENTERPRISE, "海门智造有限公司").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("1000")).await;
    let mut wrong_buyer = redeem_request(&voucher, &invoice(1), "2027-06-01", "100");
    wrong_buyer.enterprise_credit_code = OTHER_ENTERPRISE.into();
    let not_held = world.compute_provider.redeem(wrong_buyer.clone()).await;
    let not_held = expect_refusal(not_held, Code::NotFound, "NOT_FOUND");
    assert!(
        !not_held.message().contains(ENTERPRISE),
        "the owner's code leaks: {}",
        not_held.message()
    );

    let missing_id = "V000000009999";
    let mut missing = wrong_buyer;
    missing.voucher_id = missing_id.into();
    let missing = world.compute_provider.redeem(missing).await;
    let missing = expect_refusal(missing, Code::NotFound, "NOT_FOUND");
    assert_eq!(
        shape(&not_held, &voucher.voucher_id),
        shape(&missing, missing_id),
        "another's voucher and no voucher answer alike"
    );
}

#[tokio::test]
async fn a_refused_redemption_does_not_tell_the_enterprise_cap_or_voucher_balance() {
    let mut world = World::new("2027-06-15").await;
    let voucher = issue(
        &mut world.bureau,
        "v",
        pb::Program::Compute,
        Some("1234.56"),
    )
    .await;
    world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "1000"))
        .await
        .expect("a first redemption");
    // 500 of 1,234.56 granted: 734.56 left on the voucher, 1,999,500.00 under the cap.
    let over_voucher = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(2), "2027-06-01", "2000"))
        .await;
    let over_voucher = expect_refusal(
        over_voucher,
        Code::FailedPrecondition,
        "VOUCHER_BALANCE_EXCEEDED",
    );
    let big = issue(&mut world.bureau, "big", pb::Program::Compute, None).await;
    let over_cap = world
        .compute_provider
        .redeem(redeem_request(&big, &invoice(3), "2027-06-01", "5000000"))
        .await;
    let over_cap = expect_refusal(over_cap, Code::FailedPrecondition, "CAP_EXCEEDED");
    for refusal in [&over_voucher, &over_cap] {
        for secret in ["734.56", "734", "1,999,500.00", "1999500", "1,998,765.44"] {
            assert!(
                !refusal.message().contains(secret),
                "{secret} leaks in: {}",
                refusal.message()
            );
        }
        assert_eq!(
            error_metadata(refusal, "remainingCny"),
            None,
            "no remaining amount in the details"
        );
    }
    let balance = balance(
        &mut world.bureau,
        ENTERPRISE,
        pb::Program::Compute,
        "2027-06-15",
    )
    .await;
    assert_eq!(
        yuan(&balance.redeemed),
        "500.00",
        "the bureau still sees the balance"
    );
}

#[tokio::test]
async fn another_provider_learns_neither_the_claim_nor_its_id() {
    let mut world = World::new("2027-06-15").await;
    let mut rival = rival(&mut world).await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("1000")).await;
    let claimed = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "100"))
        .await
        .expect("claimed")
        .into_inner();

    let same_invoice = rival
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "100"))
        .await;
    let same_invoice = expect_refusal(
        same_invoice,
        Code::AlreadyExists,
        "INVOICE_ALREADY_REDEEMED",
    );
    assert!(
        !same_invoice.message().contains(&claimed.redemption_id),
        "another provider's claim id leaks: {}",
        same_invoice.message()
    );
    let own_again = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "999"))
        .await;
    let own_again = expect_refusal(own_again, Code::AlreadyExists, "INVOICE_ALREADY_REDEEMED");
    assert!(
        own_again.message().contains(&claimed.redemption_id),
        "the provider that made the claim is told which: {}",
        own_again.message()
    );

    let reverse = |id: &str| pb::ReverseRedemptionRequest {
        redemption_id: id.to_owned(),
        reason: "probe".into(),
    };
    let not_mine = rival
        .reverse_redemption(reverse(&claimed.redemption_id))
        .await;
    let not_mine = expect_refusal(not_mine, Code::NotFound, "NOT_FOUND");
    let missing_id = "R000000009999";
    let missing = rival.reverse_redemption(reverse(missing_id)).await;
    let missing = expect_refusal(missing, Code::NotFound, "NOT_FOUND");
    assert_eq!(
        shape(&not_mine, &claimed.redemption_id),
        shape(&missing, missing_id),
        "another's claim and no claim answer alike"
    );
    let still = world
        .bureau
        .get_redemption(pb::GetRedemptionRequest {
            redemption_id: claimed.redemption_id.clone(),
        })
        .await
        .expect("the bureau reads it")
        .into_inner();
    assert_eq!(still.status, claimed.status, "the probe changed nothing");
}

#[tokio::test]
async fn a_related_party_refusal_keeps_the_bureau_reason_to_the_bureau() {
    let mut world = World::new("2027-06-15").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("1000")).await;
    let bureau_reason = "法定代表人为同一人（内部线索 2027-17）";
    world
        .bureau
        .record_related_parties(pb::RecordRelatedPartiesRequest {
            provider_credit_code: COMPUTE_PROVIDER.into(),
            enterprise_credit_code: ENTERPRISE.into(),
            reason: bureau_reason.into(),
        })
        .await
        .expect("recorded");
    let related = world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "100"))
        .await;
    let refused = expect_refusal(related, Code::FailedPrecondition, "RELATED_PARTY");
    assert!(
        !refused.message().contains("内部线索") && !refused.message().contains("法定代表人"),
        "the bureau's reason leaks: {}",
        refused.message()
    );
}

#[tokio::test]
async fn a_lookalike_name_with_invisible_characters_is_refused_naming_the_field() {
    let mut world = World::new("2027-06-15").await;
    // "启东智算科技有限公司" with a right-to-left override, a zero-width space, a byte-order mark.
    for name in [
        "启东智算\u{202E}司公限有技科",
        "启东智\u{200B}算科技有限公司",
        "\u{FEFF}启东智算科技有限公司",
    ] {
        let refused = world
            .bureau
            .register_enterprise(pb::RegisterEnterpriseRequest {
                credit_code: OTHER_ENTERPRISE.into(),
                name: name.into(),
                ..Default::default()
            })
            .await;
        let refused = expect_refusal(refused, Code::InvalidArgument, "INVISIBLE_CHARACTER");
        let field = refused
            .get_details_bad_request()
            .and_then(|bad| bad.field_violations.first().map(|v| v.field.clone()));
        assert_eq!(field.as_deref(), Some("name"), "{}", refused.message());
    }
    let nobody = world
        .bureau
        .get_enterprise(pb::GetEnterpriseRequest {
            credit_code: OTHER_ENTERPRISE.into(),
        })
        .await;
    expect_refusal(nobody, Code::NotFound, "NOT_FOUND");
}

/// Every file and directory under `root` whose mode lets anyone but its owner in.
fn open_to_others(root: &Path) -> Vec<String> {
    let mut open = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(path) = pending.pop() {
        let metadata = std::fs::symlink_metadata(&path).expect("metadata");
        if metadata.permissions().mode() & 0o077 != 0 {
            open.push(format!(
                "{} {:o}",
                path.display(),
                metadata.permissions().mode() & 0o777
            ));
        }
        if metadata.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read_dir") {
                pending.push(entry.expect("entry").path());
            }
        }
    }
    open
}

#[tokio::test]
async fn the_ledger_its_token_and_its_backups_are_the_owners_alone_whatever_the_umask() {
    // The test process runs with the usual umask 022; a data directory left open by someone.
    let data = DataDir::new();
    std::fs::create_dir(data.path()).expect("mkdir");
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut world = World::new_in(data, "2027-06-15", &[]).await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("1000")).await;
    world
        .compute_provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "100"))
        .await
        .expect("redeemed");
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(outside.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let backup = outside.path().join("ledger.backup");
    let made = Command::new(env!("CARGO_BIN_EXE_voucherctl"))
        .env_remove("VOUCHER_TOKEN")
        .env("VOUCHER_ADDR", world.server.address.to_string())
        .env(
            "VOUCHER_TOKEN_FILE",
            world.server.data().path().join("bureau.token"),
        )
        .args(["backup", backup.to_str().expect("utf-8")])
        .output_within_deadline()
        .expect("voucherctl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let data_path = world.server.data().path();
    let open = open_to_others(&data_path);
    assert!(open.is_empty(), "readable by others: {open:?}");
    let backup_mode = std::fs::metadata(&backup)
        .expect("backup")
        .permissions()
        .mode();
    assert_eq!(
        backup_mode & 0o777,
        0o600,
        "the backup is the owner's alone"
    );
}

/// Opens up to `streams` gRPC streams on one new connection to `address`, each sending its
/// headers and never a body, with no token: what holds them open is returned.
async fn stalled_streams(
    address: std::net::SocketAddr,
    streams: usize,
) -> Vec<Box<dyn std::any::Any + Send>> {
    let tcp = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    let (client, connection) = h2::client::handshake(tcp).await.expect("HTTP/2");
    let mut held: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
    held.push(Box::new(tokio::spawn(async move {
        let _ = connection.await;
    })));
    let mut client = client;
    for _ in 0..streams {
        // The server bounds streams per connection: stop opening once it says no more.
        let ready = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            client.clone().ready(),
        );
        let Ok(Ok(ready)) = ready.await else {
            break;
        };
        client = ready;
        let request = http::Request::post(format!(
            "http://{address}/voucher.v1.VoucherLedger/GetBalance"
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("a request");
        match client.send_request(request, false) {
            Ok(stream) => held.push(Box::new(stream)),
            Err(_) => break,
        }
    }
    held.push(Box::new(client));
    held
}

#[tokio::test]
async fn streams_that_never_send_a_body_take_nothing_from_anyone_else() {
    let mut world = World::new("2027-06-15").await;
    // Eight connections with up to 256 stalled streams each: more than every request slot.
    let mut attack = Vec::new();
    for _ in 0..8 {
        attack.push(stalled_streams(world.server.address, 256).await);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    bureau_is_served_within_a_second(&mut world, "during the stalled streams").await;
    let mut health =
        tonic_health::pb::health_client::HealthClient::new(world.server.channel().await);
    tokio::time::timeout(
        std::time::Duration::from_secs(1),
        health.check(tonic_health::pb::HealthCheckRequest::default()),
    )
    .await
    .expect("health answers within a second")
    .expect("and says serving");
    drop(attack);
}

#[tokio::test]
async fn an_oversized_message_is_resource_exhausted_as_documented() {
    let mut world = World::new("2027-06-15").await;
    let refused = world
        .bureau
        .register_enterprise(pb::RegisterEnterpriseRequest {
            credit_code: OTHER_ENTERPRISE.into(),
            name: "名".repeat(400_000),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("65536"), "{}", refused.message());
}

#[tokio::test]
async fn auditors_looping_verify_share_runs_and_writes_go_on() {
    let mut world = World::new("2027-06-15").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("100000")).await;
    let mut loops = Vec::new();
    for _ in 0..4 {
        // One token each: a token may have one verification waiting at a time.
        let auditor_token = create_token(&mut world.bureau, pb::Role::Auditor, "").await;
        let mut auditor = world.server.client(&auditor_token).await;
        loops.push(tokio::spawn(async move {
            let mut runs = Vec::new();
            for _ in 0..10 {
                let report = auditor
                    .verify(pb::VerifyRequest {})
                    .await
                    .expect("verified")
                    .into_inner();
                assert!(report.sound, "{}", report.report);
                runs.push(report.verified_at);
            }
            runs
        }));
    }
    for serial in 1..=5 {
        tokio::time::timeout(
            std::time::Duration::from_secs(1),
            world.compute_provider.redeem(redeem_request(
                &voucher,
                &invoice(serial),
                "2027-06-01",
                "10",
            )),
        )
        .await
        .expect("a redemption answers within a second while auditors loop")
        .expect("and is accepted");
    }
    let mut runs = std::collections::BTreeSet::new();
    for each in loops {
        runs.extend(each.await.expect("an auditor's loop"));
    }
    assert!(
        runs.len() <= 20 && runs.iter().all(|at| !at.is_empty()),
        "forty calls at the same time share runs: {} runs",
        runs.len()
    );
}

#[tokio::test]
async fn bytes_that_are_not_a_message_are_invalid_argument_and_logged() {
    let world = World::new("2027-06-15").await;
    let address = world.server.address;
    let tcp = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    let (client, connection) = h2::client::handshake(tcp).await.expect("HTTP/2");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.expect("ready");
    let request = http::Request::post(format!(
        "http://{address}/voucher.v1.VoucherLedger/GetEnterprise"
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .body(())
    .expect("a request");
    let (response, mut body) = client.send_request(request, false).expect("sent");
    // Field 1 (credit_code, a string) holding two bytes that are not UTF-8.
    let message: &[u8] = &[0x0a, 0x02, 0xff, 0xfe];
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    body.send_data(frame.into(), true).expect("body sent");
    let response = tokio::time::timeout(std::time::Duration::from_secs(5), response)
        .await
        .expect("answered")
        .expect("a response");
    let mut grpc_status = response
        .headers()
        .get("grpc-status")
        .map(|value| value.to_str().unwrap_or_default().to_owned());
    let mut received = response.into_body();
    while received.data().await.is_some() {}
    if let Ok(Some(trailers)) = received.trailers().await
        && let Some(value) = trailers.get("grpc-status")
    {
        grpc_status = Some(value.to_str().unwrap_or_default().to_owned());
    }
    assert_eq!(
        grpc_status.as_deref(),
        Some("3"),
        "INVALID_ARGUMENT, not INTERNAL"
    );
    assert!(
        world
            .server
            .log()
            .contains("refused a request whose bytes are not a valid message"),
        "logged"
    );
}

#[tokio::test]
async fn a_bad_token_is_logged_with_the_callers_address_and_every_request_with_its_token() {
    let mut world = World::new("2027-06-15").await;
    let mut guesser = world
        .server
        .client("qdv_0000000000000000000000000000000000000000000000000000000000000000")
        .await;
    let guessed = guesser
        .get_balance(pb::GetBalanceRequest {
            enterprise_credit_code: ENTERPRISE.into(),
            program: pb::Program::Compute as i32,
            on_date: String::new(),
        })
        .await;
    expect_refusal(guessed, Code::Unauthenticated, "UNAUTHENTICATED");
    balance(
        &mut world.bureau,
        ENTERPRISE,
        pb::Program::Compute,
        "2027-06-15",
    )
    .await;
    let log = world.server.log();
    let failure = log
        .lines()
        .find(|line| line.contains("authentication failed"))
        .unwrap_or_else(|| panic!("no failed authentication in the log:\n{log}"));
    assert!(failure.contains("127.0.0.1"), "{failure}");
    let served = log
        .lines()
        .rev()
        .find(|line| line.contains("GetBalance") && line.contains("OK"))
        .unwrap_or_else(|| panic!("no GetBalance line:\n{log}"));
    assert!(
        served.contains("127.0.0.1") && served.contains("T000000000001"),
        "the bureau's request names its address and token: {served}"
    );
}

#[test]
fn a_plaintext_listener_other_machines_can_reach_is_refused_unless_accepted() {
    let data = tempfile::tempdir().expect("tempdir");
    let refused = Command::new(env!("CARGO_BIN_EXE_voucherd"))
        .args(["--listen", "0.0.0.0:0", "--data-dir"])
        .arg(data.path().join("data"))
        .output_within_deadline()
        .expect("voucherd runs");
    assert_eq!(refused.status.code(), Some(2), "a configuration error");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("`listen`") && said.contains("allow_plaintext"),
        "{said}"
    );
    assert!(
        !data.path().join("data").exists(),
        "refused before anything was created"
    );
}

#[tokio::test]
async fn event_streams_never_read_are_bounded_per_token_and_leave_backups_working() {
    let mut world = World::new("2027-06-15").await;
    let voucher = issue(&mut world.bureau, "v", pb::Program::Compute, Some("1000")).await;
    // More events than a stream buffers, so a producer whose reader takes nothing waits.
    redeem_each(&mut world.compute_provider, &voucher, 1..=150, "10").await;
    let auditor_token = create_token(&mut world.bureau, pb::Role::Auditor, "").await;
    let mut auditor = world.server.client(&auditor_token).await;
    let mut unread = Vec::new();
    let mut refused = None;
    for _ in 0..10 {
        match auditor.list_events(pb::ListEventsRequest::default()).await {
            Ok(stream) => unread.push(stream),
            Err(status) => {
                refused = Some(status);
                break;
            }
        }
    }
    let refused = refused.expect("a token's unread streams are bounded");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    // Two producers per token may wait on unread streams; a stream whose events all fit in
    // the transport's buffers ends its producer and frees its place, so one more may open.
    assert!(
        (2..=4).contains(&unread.len()),
        "{} unread streams before the refusal",
        unread.len()
    );
    let mut backup = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        world.bureau.backup(pb::BackupRequest {}),
    )
    .await
    .expect("the bureau's backup starts within a second")
    .expect("a backup stream")
    .into_inner();
    let mut bytes = 0;
    while let Some(chunk) = backup.message().await.expect("a chunk") {
        bytes += chunk.data.len();
    }
    assert!(bytes > 0, "the backup arrived whole");
    drop(unread);
}

#[tokio::test]
async fn idle_connections_past_the_bound_are_closed_and_clients_already_in_are_served() {
    use tokio::io::AsyncReadExt;
    let data = DataDir::new();
    let mut world = World::new_in(data, "2027-06-15", &["--connections-max", "8"]).await;
    // The world's three clients hold three places; fill the rest with silent sockets.
    let mut silent = Vec::new();
    for _ in 0..8 {
        silent.push(
            tokio::net::TcpStream::connect(world.server.address)
                .await
                .expect("connects"),
        );
    }
    let mut closed = 0;
    for socket in &mut silent {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(
            std::time::Duration::from_millis(300),
            socket.read(&mut byte),
        )
        .await;
        if matches!(read, Ok(Ok(0)) | Ok(Err(_))) {
            closed += 1;
        }
    }
    assert!(
        closed >= 3,
        "the sockets past the bound were closed: {closed}"
    );
    bureau_is_served_within_a_second(&mut world, "with every connection place taken").await;
    assert!(
        world.server.log().contains("too many open connections"),
        "logged"
    );
}

/// A voucherd over TLS that also accepts (but does not require) client certificates from the
/// test CA, and a bureau client over TLS without one.
async fn mutual_tls_ledger(
    certificates: &Certificates,
    directory: &Path,
    data: DataDir,
) -> (TestServer, Client) {
    let [ca, cert, key] = certificates.write(directory);
    let arguments = [
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--tls-client-ca",
        &ca,
    ];
    let server = TestServer::start_in(data, "2027-06-15", &arguments).await;
    let channel = tls_channel(&server, certificates, None)
        .await
        .expect("a TLS connection");
    let bureau = pb::voucher_ledger_client::VoucherLedgerClient::with_interceptor(
        channel,
        bearer(&server.bureau_token),
    );
    (server, bureau)
}

/// A client that proves itself with `certificate` alone (`token`: with that token too).
async fn certified_client(
    server: &TestServer,
    certificates: &Certificates,
    certificate: &(String, String, String),
    token: Option<&str>,
) -> pb::voucher_ledger_client::VoucherLedgerClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, MaybeToken>,
> {
    let identity = (certificate.0.clone(), certificate.1.clone());
    let channel = tls_channel(server, certificates, Some(identity))
        .await
        .expect("mTLS");
    pb::voucher_ledger_client::VoucherLedgerClient::with_interceptor(
        channel,
        MaybeToken(token.map(bearer)),
    )
}

#[derive(Clone)]
struct MaybeToken(Option<BearerToken>);

impl tonic::service::Interceptor for MaybeToken {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        match &mut self.0 {
            Some(token) => token.call(request),
            None => Ok(request),
        }
    }
}

/// Item 7: revoking a provider's tokens left its mTLS certificate working, and there was no
/// way to suspend it. Now the bureau suspends it (refused with a token, with a certificate,
/// and in claims the bureau files for it), revokes a certificate by fingerprint, pins the
/// ones it accepts, and all of it holds across a restart.
#[tokio::test]
async fn a_suspended_provider_or_a_revoked_certificate_is_refused_however_it_authenticates() {
    let certificates = Certificates::new();
    let directory = tempfile::tempdir().expect("tempdir");
    let (server, mut bureau) =
        mutual_tls_ledger(&certificates, directory.path(), DataDir::new()).await;
    register_enterprise(&mut bureau, ENTERPRISE, "启东智算科技有限公司").await;
    register_provider(
        &mut bureau,
        COMPUTE_PROVIDER,
        "南通算力服务有限公司",
        pb::Program::Compute,
    )
    .await;
    let voucher = issue(
        &mut bureau,
        "mtls-cut-off",
        pb::Program::Compute,
        Some("10000"),
    )
    .await;
    let token = create_token(&mut bureau, pb::Role::Provider, COMPUTE_PROVIDER).await;
    let first = certificates.client_with_fingerprint(COMPUTE_PROVIDER);
    let second = certificates.client_with_fingerprint(COMPUTE_PROVIDER);
    let third = certificates.client_with_fingerprint(COMPUTE_PROVIDER);
    let mut by_certificate = certified_client(&server, &certificates, &first, None).await;
    let claim = |serial| redeem_request(&voucher, &invoice(serial), "2027-06-01", "100");
    by_certificate
        .redeem(claim(1))
        .await
        .expect("the certificate alone identifies the provider");

    let suspended = bureau
        .suspend_provider(pb::SuspendProviderRequest {
            credit_code: COMPUTE_PROVIDER.into(),
            reason: "发票核查中".into(),
        })
        .await
        .expect("the bureau suspends a provider")
        .into_inner();
    assert_eq!(
        suspended.suspension.map(|suspension| suspension.reason),
        Some("发票核查中".to_owned())
    );
    let mut by_token = certified_client(&server, &certificates, &first, Some(&token)).await;
    for (how, refused) in [
        (
            "with its certificate",
            by_certificate.redeem(claim(2)).await,
        ),
        ("with its token", by_token.redeem(claim(2)).await),
    ] {
        let status = expect_refusal(refused, Code::PermissionDenied, "PROVIDER_SUSPENDED");
        assert!(
            !status.message().contains("发票核查中"),
            "{how}: {status:?}"
        );
    }
    let mut filed_for_it = claim(2);
    filed_for_it.provider_credit_code = COMPUTE_PROVIDER.into();
    expect_refusal(
        bureau.redeem(filed_for_it).await,
        Code::FailedPrecondition,
        "PROVIDER_SUSPENDED",
    );
    bureau
        .reinstate_provider(pb::ReinstateProviderRequest {
            credit_code: COMPUTE_PROVIDER.into(),
        })
        .await
        .expect("reinstated");
    by_certificate
        .redeem(claim(2))
        .await
        .expect("a reinstated provider is served again");

    let certificate_request = |fingerprint: &str| pb::ProviderCertificateRequest {
        credit_code: COMPUTE_PROVIDER.into(),
        certificate_sha256: fingerprint.to_owned(),
    };
    bureau
        .revoke_provider_certificate(certificate_request(&first.2))
        .await
        .expect("revoked");
    for refused in [
        by_certificate.redeem(claim(3)).await,
        by_token.redeem(claim(3)).await,
    ] {
        expect_refusal(refused, Code::Unauthenticated, "CERTIFICATE_REVOKED");
    }
    let mut with_second = certified_client(&server, &certificates, &second, None).await;
    with_second
        .redeem(claim(3))
        .await
        .expect("another certificate of the provider still works");
    let upper = third.2.to_uppercase();
    let pairs = upper.as_bytes().chunks(2).map(String::from_utf8_lossy);
    let openssl_style = pairs.collect::<Vec<_>>().join(":");
    bureau
        .pin_provider_certificate(certificate_request(&openssl_style))
        .await
        .expect("pinned, written as openssl prints it");
    expect_refusal(
        with_second.redeem(claim(4)).await,
        Code::Unauthenticated,
        "CERTIFICATE_NOT_PINNED",
    );
    expect_refusal(
        bureau
            .pin_provider_certificate(certificate_request(&first.2))
            .await,
        Code::FailedPrecondition,
        "CERTIFICATE_REVOKED",
    );
    expect_refusal(
        bureau
            .pin_provider_certificate(certificate_request("not a fingerprint"))
            .await,
        Code::InvalidArgument,
        "MALFORMED_SHA256",
    );

    let data = server.stop();
    let (server, mut bureau) = mutual_tls_ledger(&certificates, directory.path(), data).await;
    let shown = bureau
        .get_provider(pb::GetProviderRequest {
            credit_code: COMPUTE_PROVIDER.into(),
        })
        .await
        .expect("the bureau reads the provider's access")
        .into_inner();
    assert_eq!(shown.pinned_certificate_sha256, vec![third.2.clone()]);
    assert_eq!(shown.revoked_certificate_sha256, vec![first.2.clone()]);
    assert!(shown.suspension.is_none());
    let mut with_second = certified_client(&server, &certificates, &second, None).await;
    expect_refusal(
        with_second.redeem(claim(4)).await,
        Code::Unauthenticated,
        "CERTIFICATE_NOT_PINNED",
    );
    let mut with_third = certified_client(&server, &certificates, &third, None).await;
    with_third
        .redeem(claim(4))
        .await
        .expect("after a restart the pinned certificate is served");
    let listed = bureau
        .list_redemptions(pb::ListRedemptionsRequest::default())
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(
        listed.redemptions.len(),
        4,
        "exactly the four claims accepted"
    );
}

/// Item 9: token guessing was unlimited. After five failures an address waits (1 s, then
/// doubling), refused before its token is read, while callers at other addresses are served.
#[tokio::test]
async fn token_guessing_from_one_address_is_slowed_and_others_are_served() {
    let mut world = World::new("2027-06-15").await;
    let from_guesser = |token: &str| {
        let endpoint = test_endpoint(&format!("http://{}", world.server.address))
            .local_address(Some("127.0.0.2".parse().expect("an address")));
        let token = bearer(token);
        async move {
            let channel = endpoint.connect().await.expect("connects");
            pb::voucher_ledger_client::VoucherLedgerClient::with_interceptor(channel, token)
        }
    };
    let mut guesser = from_guesser("qdv_0000").await;
    let ask = pb::GetEnterpriseRequest {
        credit_code: ENTERPRISE.into(),
    };
    for _ in 0..6 {
        let refused = guesser.get_enterprise(ask.clone()).await;
        expect_refusal(refused, Code::Unauthenticated, "UNAUTHENTICATED");
    }
    let waiting = expect_refusal(
        guesser.get_enterprise(ask.clone()).await,
        Code::ResourceExhausted,
        "TOO_MANY_FAILED_ATTEMPTS",
    );
    let mut with_right_token = from_guesser(&world.server.bureau_token).await;
    let also_waiting = expect_refusal(
        with_right_token.get_enterprise(ask.clone()).await,
        Code::ResourceExhausted,
        "TOO_MANY_FAILED_ATTEMPTS",
    );
    assert!(
        waiting.message().contains("retry in 1 s") && also_waiting.message().contains("retry in"),
        "{waiting:?}"
    );
    bureau_is_served_within_a_second(&mut world, "while another address guesses tokens").await;

    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    with_right_token
        .get_enterprise(ask.clone())
        .await
        .expect("after the wait, the right token is served");
    expect_refusal(
        guesser.get_enterprise(ask.clone()).await,
        Code::Unauthenticated,
        "UNAUTHENTICATED",
    );
    let longer = expect_refusal(
        guesser.get_enterprise(ask).await,
        Code::ResourceExhausted,
        "TOO_MANY_FAILED_ATTEMPTS",
    );
    assert!(longer.message().contains("retry in 2 s"), "{longer:?}");
    let log = world.server.log();
    assert!(
        log.contains("127.0.0.2") && log.contains("wait_s"),
        "a failure is logged with its address and the wait it earned"
    );
}

/// Item 2: with the open-file limit reached, accepting failed silently (and tonic asked again
/// at once, spinning). Now it is logged as what it is, and the server serves again as soon as
/// descriptors are free.
#[tokio::test]
async fn reaching_the_open_file_limit_is_logged_and_the_server_recovers() {
    let mut world = World::new("2027-06-15").await;
    let pid = world.server.pid();
    let open_now = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the server's descriptors")
        .count();
    let limit = (open_now + 8).to_string();
    let lowered = Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            &format!("--nofile={limit}:{limit}"),
        ])
        .output()
        .expect("prlimit (util-linux) runs");
    assert!(lowered.status.success(), "{lowered:?}");
    let mut held = Vec::new();
    for _ in 0..32 {
        if let Ok(connection) = tokio::net::TcpStream::connect(world.server.address).await {
            held.push(connection);
        }
    }
    let logged = async {
        while !world
            .server
            .log()
            .contains("the open-file limit is reached")
        {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), logged)
        .await
        .expect("a clear log line says the open-file limit is reached");
    drop(held);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut bureau = world.server.bureau().await;
    std::mem::swap(&mut world.bureau, &mut bureau);
    bureau_is_served_within_a_second(&mut world, "once the held connections are closed").await;
}
