//! The ranking rules every list obeys, whatever model scored it: nothing excluded, only
//! the asked category, at most a few episodes of one podcast, best score first.

/// Picks the `k` best-scoring items that `eligible` accepts, with at most
/// `max_per_podcast` of each podcast (`podcast_of` gives an item's podcast as a dense
/// index). Items with a score that is not finite, or not above `floor`, are never
/// picked.
pub fn select(
    scores: &[f32],
    floor: f32,
    k: usize,
    max_per_podcast: usize,
    podcast_of: impl Fn(u32) -> u32,
    eligible: impl Fn(u32) -> bool,
) -> Vec<u32> {
    let mut candidates: Vec<u32> = (0..scores.len() as u32)
        .filter(|&i| {
            let s = scores[i as usize];
            s.is_finite() && s > floor && eligible(i)
        })
        .collect();
    let order = |a: &u32, b: &u32| {
        scores[*b as usize]
            .total_cmp(&scores[*a as usize])
            .then(a.cmp(b))
    };
    // Sorting a short head is enough unless the per-podcast cap throws most of it away;
    // then the whole list is sorted once.
    let head = (k * 4 + 32).min(candidates.len());
    if head < candidates.len() {
        candidates.select_nth_unstable_by(head, order);
    }
    candidates[..head].sort_unstable_by(order);
    let picked = pick(&candidates[..head], k, max_per_podcast, &podcast_of);
    if picked.len() == k || head == candidates.len() {
        return picked;
    }
    candidates.sort_unstable_by(order);
    pick(&candidates, k, max_per_podcast, &podcast_of)
}

fn pick(
    ranked: &[u32],
    k: usize,
    max_per_podcast: usize,
    podcast_of: &impl Fn(u32) -> u32,
) -> Vec<u32> {
    let mut per_podcast: Vec<(u32, usize)> = Vec::new();
    let mut picked = Vec::with_capacity(k);
    for &item in ranked {
        if picked.len() == k {
            break;
        }
        let podcast = podcast_of(item);
        match per_podcast.iter_mut().find(|(p, _)| *p == podcast) {
            Some((_, count)) if *count >= max_per_podcast => continue,
            Some((_, count)) => *count += 1,
            None => per_podcast.push((podcast, 1)),
        }
        picked.push(item);
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_episode_per_podcast_and_nothing_ineligible() {
        // Items 0-5; podcast = item / 2; item 4 is excluded.
        let scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4];
        let picked = select(&scores, 0.0, 10, 1, |i| i / 2, |i| i != 4);
        assert_eq!(picked, vec![0, 2, 5]);
        let two_each = select(&scores, 0.0, 3, 2, |i| i / 2, |_| true);
        assert_eq!(two_each, vec![0, 1, 2]);
    }

    #[test]
    fn scores_at_the_floor_are_never_picked() {
        let scores = [0.0, f32::NEG_INFINITY, 0.3];
        assert_eq!(select(&scores, 0.0, 5, 1, |i| i, |_| true), vec![2]);
    }

    #[test]
    fn a_long_run_of_one_podcast_does_not_starve_the_list() {
        // 200 episodes of podcast 0 score above two of other podcasts.
        let mut scores = vec![1.0; 200];
        scores.extend([0.5, 0.4]);
        let picked = select(
            &scores,
            0.0,
            3,
            1,
            |i| if i < 200 { 0 } else { i },
            |_| true,
        );
        assert_eq!(picked, vec![0, 200, 201]);
    }
}
