//! A bound on the requests the whole server handles at once. Past it a request is refused at
//! once with RESOURCE_EXHAUSTED (reason OVERLOADED) instead of queueing: a caller that retries
//! later does better than one that waits behind thousands of others, and the server's memory
//! stays bounded.

use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;
use tonic::body::Body;
use tonic::codegen::BoxFuture;
use tower::{Layer, Service};

use super::status::overloaded;

#[derive(Clone)]
pub struct RequestLimitLayer {
    permits: Arc<Semaphore>,
}

impl RequestLimitLayer {
    pub fn new(concurrent_requests_max: usize) -> RequestLimitLayer {
        RequestLimitLayer {
            permits: Arc::new(Semaphore::new(concurrent_requests_max)),
        }
    }
}

impl<S> Layer<S> for RequestLimitLayer {
    type Service = RequestLimit<S>;

    fn layer(&self, inner: S) -> RequestLimit<S> {
        RequestLimit {
            inner,
            permits: self.permits.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RequestLimit<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

impl<S, RequestBody> Service<http::Request<RequestBody>> for RequestLimit<S>
where
    S: Service<http::Request<RequestBody>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            let refusal =
                overloaded("the ledger is handling as many requests as it may: retry shortly")
                    .into_http();
            return Box::pin(async move { Ok(refusal) });
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            let answer = response.await;
            drop(permit);
            answer
        })
    }
}
