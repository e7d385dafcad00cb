//! Attacks on the transport without a token: streams that never send their message,
//! oversized and malformed messages, idle connections past the bound, the open-file limit, and
//! plaintext listeners other machines can reach.

use super::*;

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
