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
    let chars = input.chars().count();
    let within = |distance: usize, candidate: &str| {
        distance <= (candidate.len().max(input.len()) / 3).max(1)
            || (distance <= 2 && candidate.chars().next() == input.chars().next())
    };
    candidates
        .into_iter()
        // The distance is at least the difference in length: a candidate too long or too
        // short to be within reach costs no distance (the cost of a file of unknown keys).
        .filter(|candidate| {
            within(candidate.chars().count().abs_diff(chars), candidate)
                || (candidate.starts_with(&input) && input.len() >= 3)
        })
        // Adjacent transpositions count one edit, as typos do; the optimal string alignment
        // distance needs no table per call, unlike the unrestricted Damerau-Levenshtein one.
        .map(|candidate| (strsim::osa_distance(&input, candidate), candidate))
        .filter(|&(distance, candidate)| {
            within(distance, candidate) || (candidate.starts_with(&input) && input.len() >= 3)
        })
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
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
    fn lists_choices() {
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
