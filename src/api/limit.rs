//! Bounds on what requests can make the whole server hold (see SECURITY.md).
//!
//! A request takes one of `concurrent_requests_max` slots only once its whole message has
//! arrived: a client that sends headers and then nothing holds no slot, only its own stream,
//! and loses that after `body_read_deadline`. The message is read with a bound on its size
//! (larger is RESOURCE_EXHAUSTED, as the proto documents). Past the slots a request is refused
//! at once with RESOURCE_EXHAUSTED (reason OVERLOADED) instead of queueing: a caller that
//! retries later does better than one that waits behind thousands of others. Health checks
//! take no slot, so a liveness probe sees a live server even while it sheds load; nor does
//! server reflection, whose requests arrive on a stream that a client such as `grpcurl` keeps
//! open while it reads the answers (reading its whole body first would wait for ever). Both
//! are cheap, unauthenticated, and bounded by the streams per connection and the connections.

use std::collections::HashMap;

use tonic::Code;

use super::status::with_reason;
use crate::domain::reason::ReasonCode;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use tokio::sync::Semaphore;
use tonic::body::Body;
use tonic::codegen::BoxFuture;
use tower::{Layer, Service};

use super::status::overloaded;

/// The path prefixes of the standard health and reflection services, which take no slot.
const SLOTLESS_PATH_PREFIXES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// gRPC frames each message with five bytes: a compression flag and a length.
const MESSAGE_FRAME_BYTES: usize = 5;

#[derive(Clone)]
pub struct RequestLimitLayer {
    permits: Arc<Semaphore>,
    body_bytes_max: usize,
    body_read_deadline: Duration,
}

impl RequestLimitLayer {
    pub fn new(
        concurrent_requests_max: usize,
        message_bytes_max: usize,
        body_read_deadline: Duration,
    ) -> RequestLimitLayer {
        RequestLimitLayer {
            permits: Arc::new(Semaphore::new(concurrent_requests_max)),
            body_bytes_max: message_bytes_max + MESSAGE_FRAME_BYTES,
            body_read_deadline,
        }
    }
}

impl<S> Layer<S> for RequestLimitLayer {
    type Service = RequestLimit<S>;

    fn layer(&self, inner: S) -> RequestLimit<S> {
        RequestLimit {
            inner,
            limits: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RequestLimit<S> {
    inner: S,
    limits: RequestLimitLayer,
}

impl<S> Service<http::Request<Body>> for RequestLimit<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The service made ready is the one to call; a fresh clone stays behind for the next.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let limits = self.limits.clone();
        Box::pin(async move {
            let path = request.uri().path();
            if SLOTLESS_PATH_PREFIXES
                .iter()
                .any(|prefix| path.starts_with(prefix))
            {
                return inner.call(request).await;
            }
            let (parts, body) = request.into_parts();
            let message = match read_whole(body, &limits).await {
                Ok(message) => message,
                Err(refusal) => return Ok(refusal.into_http()),
            };
            let Ok(permit) = limits.permits.clone().try_acquire_owned() else {
                let refusal =
                    overloaded("the ledger is handling as many requests as it may: retry shortly");
                return Ok(refusal.into_http());
            };
            let answer = inner
                .call(http::Request::from_parts(
                    parts,
                    Body::new(Full::new(message)),
                ))
                .await;
            drop(permit);
            answer
        })
    }
}

/// The request's whole body, within the size bound and the read deadline.
async fn read_whole(
    body: Body,
    limits: &RequestLimitLayer,
) -> Result<tonic::codegen::Bytes, tonic::Status> {
    let reading = Limited::new(body, limits.body_bytes_max).collect();
    match tokio::time::timeout(limits.body_read_deadline, reading).await {
        Err(_) => Err(with_reason(
            Code::DeadlineExceeded,
            ReasonCode::MessageTooSlow,
            &format!(
                "the request's message did not arrive within {} s",
                limits.body_read_deadline.as_secs()
            ),
            HashMap::new(),
        )),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => Err(with_reason(
            Code::ResourceExhausted,
            ReasonCode::MessageTooLarge,
            &format!(
                "the request is larger than the {} bytes a message may have",
                limits.body_bytes_max - MESSAGE_FRAME_BYTES
            ),
            HashMap::new(),
        )),
        Ok(Err(error)) => Err(tonic::Status::cancelled(format!(
            "the request's message could not be read: {error}"
        ))),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}
