//! "Did you mean" suggestions for misspelled keys and enum values.

/// The candidate closest to `input`, when it is close enough to be a plausible typo.
#[must_use]
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // No key, region or value is this long: a longer input is no typo of one, and the edit
    // distance would cost its length times each candidate's.
    if input.len() > 64 {
        return None;
    }
    let input = input.to_ascii_lowercase();
    let within = |distance: usize, candidate: &str| {
        distance <= (candidate.len().max(input.len()) / 3).max(1)
            || (distance <= 2 && candidate.chars().next() == input.chars().next())
    };
    let completes = |candidate: &str| candidate.starts_with(&input) && input.len() >= 3;
    let letters = Letters::of(&input);
    candidates
        .into_iter()
        // The distance is at least the letters one has that the other lacks (and so at least
        // the difference in length): a candidate out of reach by that costs no distance (a
        // file of 100,000 unknown keys asks for 100,000 suggestions).
        .filter(|candidate| within(letters.distance(candidate), candidate) || completes(candidate))
        // Adjacent transpositions count one edit, as typos do; the optimal string alignment
        // distance needs no table per call, unlike the unrestricted Damerau-Levenshtein one.
        .map(|candidate| (strsim::osa_distance(&input, candidate), candidate))
        .filter(|&(distance, candidate)| within(distance, candidate) || completes(candidate))
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// How many times each letter occurs in a word; every non-ASCII character counts as one
/// letter, which can only lower [`Letters::distance`].
struct Letters {
    counts: [u32; 129],
    len: usize,
}

impl Letters {
    fn slot(c: char) -> usize {
        if c.is_ascii() { c as usize } else { 128 }
    }

    fn of(word: &str) -> Self {
        let mut counts = [0; 129];
        let mut len = 0;
        for c in word.chars() {
            counts[Self::slot(c)] += 1;
            len += 1;
        }
        Self { counts, len }
    }

    /// The bag distance to `other`: the letters one of them has beyond the other's, the
    /// larger of the two counts, which is the longer length less the letters they share.
    /// No edit changes it by more than one and a transposition not at all, so it never
    /// exceeds the edit distance.
    fn distance(&self, other: &str) -> usize {
        let mut left = self.counts;
        let (mut shared, mut len) = (0, 0);
        for c in other.chars() {
            let count = &mut left[Self::slot(c)];
            if *count > 0 {
                *count -= 1;
                shared += 1;
            }
            len += 1;
        }
        self.len.max(len) - shared
    }
}

/// `a`, `b` or `c`: a list of choices for a message.
#[must_use]
pub fn one_of(choices: &[&str]) -> String {
    let quoted: Vec<String> = choices.iter().map(|c| format!("`{c}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos() {
        assert_eq!(closest("regoin", ["region", "project"]), Some("region"));
        assert_eq!(closest("gcp", ["gke", "local"]), Some("gke"));
        assert_eq!(closest("Local", ["gke", "local"]), Some("local"));
        assert_eq!(closest("zzzzzz", ["region", "project"]), None);
    }

    #[test]
    fn the_bag_distance_never_exceeds_the_edit_distance() {
        let words = [
            "",
            "region",
            "regoin",
            "reigon",
            "project",
            "k00000",
            "zone",
            "bucket",
            "bukcet",
            "Région",
            "environment",
            "enviroment",
            "tag",
            "gat",
            "a",
            "ab",
            "ba",
            "aab",
        ];
        for a in words {
            for b in words {
                let bag = Letters::of(a).distance(b);
                assert!(bag <= strsim::osa_distance(a, b), "{a:?} {b:?}");
            }
        }
        assert_eq!(Letters::of("region").distance("regoin"), 0);
        assert_eq!(Letters::of("k00000").distance("region"), 6);
        assert_eq!(Letters::of("ab").distance("abc"), 1);
    }

    #[test]
    fn lists_choices() {
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
