//! Prometheus metrics through the `metrics` facade: the names, in one place, and the exporter.
//!
//! Until [`install`] is called (config key `metrics_listen`) every recording is a no-op.
//! Money is counted in fen, as an integer, so the counter is exact: yuan = fen / 100.

use std::net::SocketAddr;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

use crate::engine::Reader;

/// Latency buckets, in seconds: 100 µs to 10 s.
const LATENCY_BUCKETS_S: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0,
];
/// Batch size buckets, in commands.
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];
/// How often the store's size on disk is measured.
const STORE_SIZE_INTERVAL: Duration = Duration::from_secs(10);

/// Starts the exporter: `GET http://<address>/metrics`.
pub fn install(address: SocketAddr) -> Result<(), String> {
    PrometheusBuilder::new()
        .with_http_listener(address)
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS_S)
        .and_then(|builder| {
            builder.set_buckets_for_metric(
                Matcher::Full("voucher_writer_batch_commands".to_owned()),
                BATCH_BUCKETS,
            )
        })
        .map_err(|error| error.to_string())?
        .install()
        .map_err(|error| error.to_string())
}

/// One gRPC request answered.
pub fn request(rpc: &'static str, code: &'static str, latency: Duration) {
    counter!("voucher_requests_total", "rpc" => rpc, "code" => code).increment(1);
    histogram!("voucher_request_duration_seconds", "rpc" => rpc).record(latency.as_secs_f64());
}

/// A redemption recorded (`accepted`) or refused (`outcome` = the refusal's reason).
pub fn redemption(program: &'static str, outcome: &'static str) {
    counter!("voucher_redemptions_total", "program" => program, "outcome" => outcome).increment(1);
}

/// Subsidy granted by accepted redemptions, and returned by reversals, in fen.
pub fn subsidy(program: &'static str, direction: &'static str, fen: u64) {
    counter!("voucher_subsidy_fen_total", "program" => program, "direction" => direction)
        .increment(fen);
}

/// One durable batch of the writer.
pub fn batch(commands: usize, flush_and_sync: Duration) {
    histogram!("voucher_writer_batch_commands").record(commands as f64);
    histogram!("voucher_writer_flush_duration_seconds").record(flush_and_sync.as_secs_f64());
}

/// A caller that presented no usable token or certificate (`surface`: grpc or console).
pub fn authentication_failed(surface: &'static str) {
    counter!("voucher_authentication_failures_total", "surface" => surface).increment(1);
}

/// A request refused because its bytes were not a valid message.
pub fn malformed_message() {
    counter!("voucher_malformed_messages_total").increment(1);
}

/// How long one checkpoint (sled's flush and fsync) took.
pub fn checkpoint(duration: Duration) {
    histogram!("voucher_checkpoint_duration_seconds").record(duration.as_secs_f64());
}

/// Commands waiting for the writer.
pub fn queue_depth(commands: usize) {
    gauge!("voucher_writer_queue_depth").set(commands as f64);
}

/// Whether this voucherd is the writer (1) or a standby (0).
pub fn writer_active(active: bool) {
    gauge!("voucher_writer_active").set(if active { 1.0 } else { 0.0 });
}

/// Measures the store's size on disk every few seconds, for as long as it runs.
pub async fn watch_store_size(reader: Reader) {
    let mut ticks = tokio::time::interval(STORE_SIZE_INTERVAL);
    loop {
        ticks.tick().await;
        let measured = {
            let reader = reader.clone();
            tokio::task::spawn_blocking(move || reader.size_on_disk_bytes()).await
        };
        if let Ok(Ok(bytes)) = measured {
            gauge!("voucher_store_size_bytes").set(bytes as f64);
        }
    }
}
