//! Splitting a token-major output buffer across threads.
//!
//! Work is divided by tokens: each thread writes a contiguous run of output rows, so no
//! two threads touch the same memory and no synchronisation is needed beyond the scope.

/// Calls `work(first_token, rows)` on disjoint runs of `out`'s rows of `width` values,
/// on the calling thread when `threads` is 1 or there is only one row.
pub(crate) fn for_rows<F>(out: &mut [f32], width: usize, threads: usize, work: F)
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    let tokens = out.len() / width.max(1);
    let threads = threads.clamp(1, tokens.max(1));
    if threads == 1 {
        work(0, out);
        return;
    }
    let per_thread = tokens.div_ceil(threads);
    std::thread::scope(|scope| {
        let work = &work;
        let mut chunks = out.chunks_mut(per_thread * width).enumerate();
        // The calling thread takes the first run itself instead of idling.
        let first = chunks.next();
        for (i, chunk) in chunks {
            scope.spawn(move || work(i * per_thread, chunk));
        }
        if let Some((_, chunk)) = first {
            work(0, chunk);
        }
    });
}
