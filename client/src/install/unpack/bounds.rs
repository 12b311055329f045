//! A gzip decoder that bounds what an archive may cost while it is unpacked: it refuses to
//! inflate past a ratio of the compressed bytes it has read.

use std::fs::File;
use std::io::{self, Read};

use super::{UnpackError, UnpackLimits};

/// A gzip decoder that refuses to inflate more than `max_ratio` times the compressed bytes
/// it has read, once past `ratio_floor`.
pub(super) struct RatioGuard {
    gz: flate2::read::GzDecoder<CountingReader<File>>,
    inflated: u64,
    limits: UnpackLimits,
    /// Set when the guard refused: tar turns the read error into its own, this keeps why.
    pub(super) tripped: Option<UnpackError>,
}

impl RatioGuard {
    pub(super) fn new(file: File, limits: UnpackLimits) -> Self {
        RatioGuard {
            gz: flate2::read::GzDecoder::new(CountingReader {
                inner: file,
                read: 0,
            }),
            inflated: 0,
            limits,
            tripped: None,
        }
    }
}

impl Read for RatioGuard {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.tripped.is_some() {
            return Err(io::Error::other("compression bomb"));
        }
        let n = self.gz.read(buf)?;
        self.inflated += n as u64;
        let read = self.gz.get_ref().read;
        if self.inflated > self.limits.ratio_floor
            && self.inflated > self.limits.max_ratio.saturating_mul(read)
        {
            self.tripped = Some(UnpackError::Bomb {
                inflated: self.inflated,
                read,
                ratio: self.limits.max_ratio,
            });
            return Err(io::Error::other("compression bomb"));
        }
        Ok(n)
    }
}

/// Counts the compressed bytes read through it, for the ratio.
struct CountingReader<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}
