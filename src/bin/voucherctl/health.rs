//! `voucherctl health`: the gRPC health check, as container and Kubernetes probes run it. It
//! needs no token, so it runs before one is looked for, on a bare channel. `--writer` asks
//! whether this voucherd is the one that writes (on PostgreSQL, a standby serves reads only).

use clap::Args;

use std::process::ExitCode;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::connect::{CONNECT_TIMEOUT, open_channel};
use crate::output::emit;
use crate::{Cli, Failure, async_runtime, fail};

#[derive(Args, Clone, Debug)]
pub struct HealthArguments {
    /// Ask whether this voucherd writes (the service `voucher.v1.VoucherLedger.Writer`): a
    /// standby on PostgreSQL answers NOT_SERVING. For the probe that sends writes to the active.
    #[arg(long)]
    writer: bool,
}

/// Exit 0 and `SERVING` when the ledger's service (or, with `--writer`, its writer) is serving;
/// 1 when it is not; 3 when the server cannot be reached.
pub fn run(cli: &Cli, arguments: &HealthArguments) -> ExitCode {
    let runtime = match async_runtime() {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    let checked = runtime.block_on(async {
        let channel = open_channel(cli, CONNECT_TIMEOUT).await?;
        let mut client = HealthClient::new(channel);
        let service = if arguments.writer {
            "voucher.v1.VoucherLedger.Writer"
        } else {
            "voucher.v1.VoucherLedger"
        };
        let request = HealthCheckRequest {
            service: service.to_owned(),
        };
        Ok::<_, Failure>(client.check(request).await?.into_inner().status)
    });
    match checked {
        Ok(status) if status == ServingStatus::Serving as i32 => {
            emit("SERVING\n");
            ExitCode::SUCCESS
        }
        Ok(status) => fail(1, &format!("not serving (status {status})")),
        Err(failure) => failure.report(None, cli.lang),
    }
}
