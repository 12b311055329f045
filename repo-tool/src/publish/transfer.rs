//! Requests to the store, in bounded parallel and bounded memory: at most
//! [`REQUESTS_IN_FLIGHT`] requests at once, each holding at most one part of a file
//! (files are read part by part from disk, never whole), so memory stays near
//! `REQUESTS_IN_FLIGHT * PART_BYTES` whatever the size of the artifacts.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::part_buffers::PartBuffers;
use crate::progress::Progress;

/// Size of a multipart upload's parts (above S3's 5 MiB minimum): a 1 GiB artifact goes
/// up in 128 parts. A file of at most this size goes up in one PUT.
pub(crate) const PART_BYTES: u64 = 8 * 1024 * 1024;
/// S3 takes at most 10,000 parts per upload: bigger files get bigger parts.
const MAX_PARTS: u64 = 10_000;
/// Requests under way at once (uploads, parts, copies).
pub(crate) const REQUESTS_IN_FLIGHT: usize = 4;

/// Sends files and copies names in one store, sharing one budget of requests.
#[derive(Clone)]
pub(crate) struct Transfer {
    store: Arc<dyn ObjectStore>,
    permits: Arc<Semaphore>,
    buffers: PartBuffers,
    progress: Progress,
}

impl Transfer {
    pub(crate) fn new(store: Arc<dyn ObjectStore>, progress: Progress) -> Self {
        Transfer {
            store,
            permits: Arc::new(Semaphore::new(REQUESTS_IN_FLIGHT)),
            buffers: PartBuffers::default(),
            progress,
        }
    }

    /// Uploads `size` bytes of `path` to `to`: one PUT, or a multipart upload above
    /// [`PART_BYTES`].
    pub(crate) async fn send(&self, path: &Path, size: u64, to: &ObjectPath) -> Result<()> {
        let file =
            Arc::new(File::open(path).with_context(|| format!("opening {}", path.display()))?);
        if size <= PART_BYTES {
            let _permit = self.permits.acquire().await?;
            let bytes = self.read_part(&file, path, 0, size).await?;
            self.store
                .put(to, bytes)
                .await
                .with_context(|| format!("uploading {to}"))?;
            self.progress.advance(size);
            return Ok(());
        }
        let mut upload = self
            .store
            .put_multipart(to)
            .await
            .with_context(|| format!("starting the multipart upload of {to}"))?;
        match self.send_parts(&mut *upload, &file, path, size).await {
            Ok(()) => {
                upload
                    .complete()
                    .await
                    .with_context(|| format!("completing the multipart upload of {to}"))?;
                Ok(())
            }
            Err(e) => {
                // Parts already sent would otherwise stay (and be billed) in the bucket.
                let _ = upload.abort().await;
                Err(e.context(format!("uploading {to}")))
            }
        }
    }

    /// Reads and sends every part of `file`; each part holds one request permit from
    /// before it is read until the server has it.
    async fn send_parts(
        &self,
        upload: &mut dyn object_store::MultipartUpload,
        file: &Arc<File>,
        path: &Path,
        size: u64,
    ) -> Result<()> {
        let part = PART_BYTES.max(size.div_ceil(MAX_PARTS));
        let mut running: JoinSet<Result<u64, object_store::Error>> = JoinSet::new();
        let mut offset = 0;
        while offset < size {
            let len = part.min(size - offset);
            let permit = self.permits.clone().acquire_owned().await?;
            let bytes = self.read_part(file, path, offset, len).await?;
            // Parts are numbered in the order put_part is called, so it is called here,
            // in order; the requests then run on their own.
            let request = upload.put_part(bytes);
            running.spawn(async move {
                let result = request.await.map(|()| len);
                drop(permit);
                result
            });
            while let Some(done) = running.try_join_next() {
                self.progress.advance(done??);
            }
            offset += len;
        }
        while let Some(done) = running.join_next().await {
            self.progress.advance(done??);
        }
        Ok(())
    }

    /// Creates `to` as a copy of `from` on the server: no bytes leave this machine.
    pub(crate) async fn copy(&self, from: &ObjectPath, to: &ObjectPath) -> Result<()> {
        let _permit = self.permits.acquire().await?;
        self.store
            .copy(from, to)
            .await
            .with_context(|| format!("copying {from} to {to} on the server"))
    }

    /// `len` bytes of `file` from `offset`, read off the async thread into a pooled buffer.
    async fn read_part(
        &self,
        file: &Arc<File>,
        path: &Path,
        offset: u64,
        len: u64,
    ) -> Result<PutPayload> {
        let file = file.clone();
        let mut buf = self.buffers.take(usize::try_from(len)?);
        let buf =
            tokio::task::spawn_blocking(move || file.read_exact_at(&mut buf, offset).map(|()| buf))
                .await
                .map_err(|e| anyhow!("reading {}: {e}", path.display()))?
                .with_context(|| {
                    format!(
                        "reading {} (did it change while publishing?)",
                        path.display()
                    )
                })?;
        Ok(self.buffers.payload(buf))
    }
}
