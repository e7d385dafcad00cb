//! The protobuf codec of the ledger's service: tonic-prost's, except that bytes that are not a
//! valid message (invalid UTF-8 in a string, a wrong wire type, a truncated field) are
//! INVALID_ARGUMENT, logged and counted, instead of INTERNAL (see SECURITY.md): the caller sent bad
//! bytes; the server did nothing wrong, and an operator should see who keeps doing it.

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// The codec the generated service and client use (see `build.rs`).
pub struct LedgerCodec<T, U> {
    prost: ProstCodec<T, U>,
}

impl<T, U> Default for LedgerCodec<T, U> {
    fn default() -> LedgerCodec<T, U> {
        LedgerCodec {
            prost: ProstCodec::default(),
        }
    }
}

impl<T, U> Codec for LedgerCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = LedgerDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.prost.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        LedgerDecoder {
            prost: self.prost.decoder(),
            _message: PhantomData,
        }
    }
}

/// Decodes as tonic-prost does, and says "invalid argument" for bytes that are not a message.
pub struct LedgerDecoder<U> {
    prost: ProstDecoder<U>,
    _message: PhantomData<U>,
}

impl<U: Message + Default> Decoder for LedgerDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.prost.decode(buf).map_err(|status| {
            tracing::warn!(
                error = status.message(),
                "refused a request whose bytes are not a valid message"
            );
            crate::metrics::malformed_message();
            super::status::with_reason(
                tonic::Code::InvalidArgument,
                crate::domain::reason::ReasonCode::MalformedMessage,
                &format!(
                    "the request is not a valid protobuf message: {}",
                    status.message()
                ),
                std::collections::HashMap::new(),
            )
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.prost.buffer_settings()
    }
}
