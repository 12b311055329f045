//! Runs one job per item on every core; results come back in input order.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Applies `job` to every item using `per_core` threads per core. Stops handing out work
/// after the first error when `stop_on_error` is set; every result is returned either way.
pub(crate) fn map<T: Sync, R: Send, E: Send>(
    items: &[T],
    per_core: usize,
    stop_on_error: bool,
    job: impl Fn(&T) -> Result<R, E> + Sync,
) -> Vec<Option<Result<R, E>>> {
    let threads = (std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        * per_core.max(1))
    .min(items.len().max(1));
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<R, E>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                if stop_on_error && failed.load(Ordering::Relaxed) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let result = job(item);
                if result.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
            });
        }
    });
    results.into_inner().unwrap_or_else(|p| p.into_inner())
}
