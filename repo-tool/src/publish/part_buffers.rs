//! Reusable buffers for the parts a publication reads from disk. Each buffer goes back to
//! the pool when the request that sent it lets go of it, so the process holds at most as
//! many buffers as requests were ever in flight at once. Freeing and allocating a fresh
//! 8 MiB buffer per part instead lets glibc's allocator raise its mmap threshold and keep
//! the freed memory in its heap, which grows the peak RSS past the bound.

use std::sync::{Arc, Mutex};

use object_store::PutPayload;

/// A pool of byte buffers.
#[derive(Clone, Default)]
pub(crate) struct PartBuffers(Arc<Mutex<Vec<Vec<u8>>>>);

impl PartBuffers {
    /// A buffer of `len` bytes (contents unspecified), from the pool if one is free.
    pub(crate) fn take(&self, len: usize) -> Vec<u8> {
        let mut buf = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_default();
        buf.resize(len, 0);
        buf
    }

    /// `buf` as a payload that returns it to the pool when the request is done with it.
    pub(crate) fn payload(&self, buf: Vec<u8>) -> PutPayload {
        PutPayload::from(bytes::Bytes::from_owner(Pooled {
            buf,
            pool: self.clone(),
        }))
    }
}

/// A buffer lent to a request.
struct Pooled {
    buf: Vec<u8>,
    pool: PartBuffers,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        self.pool
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_when_its_payload_is_dropped() {
        let pool = PartBuffers::default();
        let mut buf = pool.take(16);
        buf[0] = 7;
        let address = buf.as_ptr();
        let payload = pool.payload(buf);
        assert_eq!(payload.content_length(), 16);
        drop(payload);
        let again = pool.take(8);
        assert_eq!(again.as_ptr(), address);
        assert_eq!(again.len(), 8);
    }
}
