//! Who may speak: guessing tokens from one address, logging who failed and from where, and a
//! provider cut off by the bureau however it authenticates (suspension, revoked or unpinned
//! certificates).

use super::*;

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
