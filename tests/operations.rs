//! Running it in production: configuration refused whole with the key named, TLS and mutual
//! TLS with certificates made for the test, Prometheus metrics scraped after real calls, and
//! one JSON log line per request that never shows a token.

mod common;

use std::process::Command;

use common::tls::{Certificates, tls_channel};
use common::*;
use tonic::Code;
use voucher_ledger::proto::voucher::v1 as pb;
use voucher_ledger::proto::voucher::v1::voucher_ledger_client::VoucherLedgerClient;

fn check_config(arguments: &[&str], environment: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_voucherd"));
    command.arg("--check-config").args(arguments);
    for (key, value) in environment {
        command.env(key, value);
    }
    command.output_within_deadline().expect("voucherd runs")
}

#[test]
fn a_bad_configuration_is_refused_naming_the_key_from_file_env_or_flag() {
    let directory = tempfile::tempdir().expect("tempdir");
    let file = directory.path().join("voucherd.toml");
    std::fs::write(
        &file,
        "queue_commands_max = 64\nlisten = \"127.0.0.1:6000\"\n",
    )
    .expect("write");
    let file_argument = file.to_str().expect("utf-8");

    let good = check_config(
        &["--config", file_argument],
        &[("VOUCHER_LISTEN", "127.0.0.1:7000")],
    );
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let shown = String::from_utf8_lossy(&good.stdout);
    assert!(shown.contains("queue_commands_max = 64"), "{shown}");
    assert!(
        shown.contains("listen = \"127.0.0.1:7000\""),
        "the environment beats the file: {shown}"
    );
    let flagged = check_config(
        &["--config", file_argument, "--listen", "127.0.0.1:8000"],
        &[("VOUCHER_LISTEN", "127.0.0.1:7000")],
    );
    assert!(
        String::from_utf8_lossy(&flagged.stdout).contains("127.0.0.1:8000"),
        "a flag beats the environment"
    );

    std::fs::write(&file, "queue_commands_max = 0\n").expect("write");
    let from_file = check_config(&["--config", file_argument], &[]);
    assert_eq!(from_file.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&from_file.stderr).contains("`queue_commands_max`"));
    let from_environment = check_config(&[], &[("VOUCHER_MAX_MESSAGE_BYTES", "lots")]);
    assert_eq!(from_environment.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&from_environment.stderr).contains("message_bytes_max"));
    std::fs::write(&file, "tls_cert = \"server.pem\"\n").expect("write");
    let half_tls = check_config(&["--config", file_argument], &[]);
    assert!(String::from_utf8_lossy(&half_tls.stderr).contains("`tls_key`"));
    let not_ours = check_config(
        &[],
        &[("VOUCHER_TOKEN", "qdv_x"), ("VOUCHER_ADDR", "elsewhere")],
    );
    assert!(
        not_ours.status.success(),
        "voucherctl's variables are not voucherd's keys"
    );
}

#[tokio::test]
async fn tls_serves_encrypted_and_plain_text_is_refused() {
    let certificates = Certificates::new();
    let directory = tempfile::tempdir().expect("tempdir");
    let [_, cert, key] = certificates.write(directory.path());
    let server = TestServer::start_in(
        DataDir::new(),
        "2027-06-15",
        &["--tls-cert", &cert, "--tls-key", &key],
    )
    .await;
    let channel = tls_channel(&server, &certificates, None)
        .await
        .expect("a TLS connection");
    let mut bureau = VoucherLedgerClient::with_interceptor(channel, bearer(&server.bureau_token));
    register_enterprise(&mut bureau, ENTERPRISE, "启东智算科技有限公司").await;

    let ca = directory.path().join("ca.pem");
    let address = format!("https://{}", server.address);
    let voucherctl = |arguments: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_voucherctl"))
            .env_remove("VOUCHER_TOKEN")
            .env(
                "VOUCHER_TOKEN_FILE",
                server.data().path().join("bureau.token"),
            )
            .args(["--addr", &address, "--ca-cert", ca.to_str().expect("utf-8")])
            .args(arguments)
            .output_within_deadline()
            .expect("voucherctl runs")
    };
    assert_eq!(
        String::from_utf8_lossy(&voucherctl(&["health"]).stdout),
        "SERVING\n"
    );
    let over_tls = voucherctl(&["get-enterprise", ENTERPRISE]);
    let shown = String::from_utf8_lossy(&over_tls.stdout);
    assert!(
        shown.contains("启东智算科技有限公司"),
        "{shown} {}",
        String::from_utf8_lossy(&over_tls.stderr)
    );

    let plain = within(
        CONNECT_DEADLINE,
        "a plain connection to a TLS port",
        test_endpoint(&format!("http://{}", server.address)).connect(),
    )
    .await;
    let refused = match plain {
        Err(_) => true,
        Ok(channel) => {
            let mut client =
                VoucherLedgerClient::with_interceptor(channel, bearer(&server.bureau_token));
            client
                .get_enterprise(pb::GetEnterpriseRequest {
                    credit_code: ENTERPRISE.into(),
                })
                .await
                .is_err()
        }
    };
    assert!(
        refused,
        "plain text must not reach the ledger when TLS is on"
    );
}

#[tokio::test]
async fn with_mutual_tls_a_provider_certificate_names_the_provider_and_no_certificate_is_refused() {
    let certificates = Certificates::new();
    let directory = tempfile::tempdir().expect("tempdir");
    let [ca, cert, key] = certificates.write(directory.path());
    let arguments = [
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--tls-client-ca",
        &ca,
        "--tls-require-client-cert",
        "true",
    ];
    let server = TestServer::start_in(DataDir::new(), "2027-06-15", &arguments).await;

    let without = tls_channel(&server, &certificates, None).await;
    let refused = match without {
        Err(_) => true,
        Ok(channel) => {
            let mut client =
                VoucherLedgerClient::with_interceptor(channel, bearer(&server.bureau_token));
            client
                .get_enterprise(pb::GetEnterpriseRequest {
                    credit_code: ENTERPRISE.into(),
                })
                .await
                .is_err()
        }
    };
    assert!(
        refused,
        "a client without a certificate is refused when mTLS is required"
    );

    let operator = tls_channel(
        &server,
        &certificates,
        Some(certificates.client("bureau operations")),
    )
    .await
    .expect("mTLS");
    let mut bureau = VoucherLedgerClient::with_interceptor(operator, bearer(&server.bureau_token));
    register_enterprise(&mut bureau, ENTERPRISE, "启东智算科技有限公司").await;
    register_provider(
        &mut bureau,
        COMPUTE_PROVIDER,
        "南通算力服务有限公司",
        pb::Program::Compute,
    )
    .await;
    let voucher = issue(&mut bureau, "mtls", pb::Program::Compute, Some("1000")).await;

    let provider_channel = tls_channel(
        &server,
        &certificates,
        Some(certificates.client(COMPUTE_PROVIDER)),
    )
    .await
    .expect("mTLS");
    let mut provider = VoucherLedgerClient::new(provider_channel.clone());
    let redemption = provider
        .redeem(redeem_request(&voucher, &invoice(1), "2027-06-01", "100"))
        .await
        .expect("the certificate alone identifies the provider")
        .into_inner();
    assert_eq!(redemption.provider_credit_code, COMPUTE_PROVIDER);
    let denied = provider
        .get_balance(pb::GetBalanceRequest {
            enterprise_credit_code: ENTERPRISE.into(),
            program: 1,
            on_date: String::new(),
        })
        .await;
    expect_refusal(denied, Code::PermissionDenied, "PERMISSION_DENIED");
    let mut mismatched =
        VoucherLedgerClient::with_interceptor(provider_channel, bearer(&server.bureau_token));
    let confused = mismatched
        .get_enterprise(pb::GetEnterpriseRequest {
            credit_code: ENTERPRISE.into(),
        })
        .await;
    expect_refusal(confused, Code::PermissionDenied, "PERMISSION_DENIED");

    let stranger = tls_channel(
        &server,
        &certificates,
        Some(certificates.client(OTHER_ENTERPRISE)),
    )
    .await
    .expect("mTLS");
    let unknown = VoucherLedgerClient::new(stranger)
        .redeem(redeem_request(&voucher, &invoice(2), "2027-06-01", "100"))
        .await;
    expect_refusal(unknown, Code::Unauthenticated, "UNAUTHENTICATED");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

async fn scrape(address: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    within(CALL_DEADLINE, "a metrics scrape", async {
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("metrics listener");
        let request =
            format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        response
    })
    .await
}

fn metric(page: &str, name_and_labels: &str) -> f64 {
    page.lines()
        .find(|line| line.starts_with(name_and_labels))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {name_and_labels} in:\n{page}"))
}

#[tokio::test]
async fn metrics_count_requests_redemptions_and_subsidy() {
    let metrics_address = format!("127.0.0.1:{}", free_port());
    let server = TestServer::start_in(
        DataDir::new(),
        "2027-06-15",
        &["--metrics-listen", &metrics_address, "--log-format", "json"],
    )
    .await;
    let mut bureau = server.bureau().await;
    register_enterprise(&mut bureau, ENTERPRISE, "启东智算科技有限公司").await;
    register_provider(
        &mut bureau,
        COMPUTE_PROVIDER,
        "南通算力服务有限公司",
        pb::Program::Compute,
    )
    .await;
    let token = create_token(&mut bureau, pb::Role::Provider, COMPUTE_PROVIDER).await;
    let mut provider = server.client(&token).await;
    let voucher = issue(&mut bureau, "m", pb::Program::Compute, Some("100")).await;
    for serial in 1..=3 {
        provider
            .redeem(redeem_request(
                &voucher,
                &invoice(serial),
                "2027-06-01",
                "20.02",
            ))
            .await
            .expect("redeemed");
    }
    let refused = provider
        .redeem(redeem_request(&voucher, &invoice(9), "2027-06-01", "1000"))
        .await;
    expect_refusal(
        refused,
        Code::FailedPrecondition,
        "VOUCHER_BALANCE_EXCEEDED",
    );

    let page = scrape(&metrics_address).await;
    assert_eq!(
        metric(&page, "voucher_requests_total{rpc=\"Redeem\",code=\"OK\"}"),
        3.0
    );
    assert_eq!(
        metric(
            &page,
            "voucher_requests_total{rpc=\"Redeem\",code=\"FAILED_PRECONDITION\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &page,
            "voucher_redemptions_total{program=\"compute\",outcome=\"accepted\"}"
        ),
        3.0
    );
    assert_eq!(
        metric(
            &page,
            "voucher_redemptions_total{program=\"compute\",outcome=\"VOUCHER_BALANCE_EXCEEDED\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &page,
            "voucher_subsidy_fen_total{program=\"compute\",direction=\"granted\"}"
        ),
        3003.0
    );
    assert!(metric(&page, "voucher_writer_batch_commands_count") >= 3.0);
    assert!(metric(&page, "voucher_writer_flush_duration_seconds_count") >= 3.0);
    assert!(page.contains("voucher_writer_queue_depth"), "{page}");

    let log = server.log();
    let redeem_lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["message"] == "request" && line["rpc"] == "Redeem")
        .collect();
    assert_eq!(redeem_lines.len(), 4, "one line per request:\n{log}");
    assert_eq!(redeem_lines[0]["role"], "provider");
    assert_eq!(redeem_lines[3]["code"], "FAILED_PRECONDITION");
    assert!(redeem_lines[0]["latency_ms"].as_f64().is_some());
    assert!(
        !log.contains(&token) && !log.contains(&server.bureau_token),
        "no token is ever logged"
    );
}

#[test]
fn a_renamed_key_still_works_under_its_old_name_from_file_env_or_flag_and_is_warned() {
    let directory = tempfile::tempdir().expect("tempdir");
    let file = directory.path().join("voucherd.toml");
    std::fs::write(&file, "max_connections = 64\n").expect("write");
    let file_argument = file.to_str().expect("utf-8");
    let shown = check_config(
        &["--config", file_argument, "--max-message-bytes", "70000"],
        &[("VOUCHER_QUEUE_CAPACITY", "99")],
    );
    assert!(shown.status.success(), "{shown:?}");
    let stdout = String::from_utf8_lossy(&shown.stdout);
    for in_force in [
        "connections_max = 64",
        "message_bytes_max = 70000",
        "queue_commands_max = 99",
    ] {
        assert!(stdout.contains(in_force), "{in_force} in {stdout}");
    }
    let stderr = String::from_utf8_lossy(&shown.stderr);
    for old in ["max_connections", "max_message_bytes", "queue_capacity"] {
        assert!(
            stderr.contains(&format!("`{old}` is now called")),
            "{old}: {stderr}"
        );
    }
}
