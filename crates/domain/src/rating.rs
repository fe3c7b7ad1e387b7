//! The agent rating used to sort agents for sellers: a Bayesian average in integer arithmetic.
//!
//! ```text
//! score_x100 = (PRIOR_WEIGHT × PRIOR_MEAN_X100 + 100 × Σ stars) / (PRIOR_WEIGHT + n)     (integer division)
//! ```
//!
//! Every agent starts as if it had [`PRIOR_WEIGHT`] ratings of [`PRIOR_MEAN_X100`]/100 stars, so
//! a single 5-star review moves a new agent from 3.00 only to 3.18, below an agent with twenty
//! reviews averaging 4.5 (4.00). Ratings come only from completed viewings, once each, so the
//! inputs are themselves on the log and an auditor recomputes the same order.

/// How many imaginary prior ratings every agent starts with.
pub const PRIOR_WEIGHT: u64 = 10;
/// The prior ratings' value, in hundredths of a star (3.00 stars).
pub const PRIOR_MEAN_X100: u64 = 300;

/// The Bayesian score ×100 of an agent with `count` ratings adding up to `sum` stars.
#[must_use]
pub fn score_x100(sum: u64, count: u64) -> u64 {
    (PRIOR_WEIGHT * PRIOR_MEAN_X100 + 100 * sum) / (PRIOR_WEIGHT + count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_five_star_review_cannot_game_the_order() {
        assert_eq!(score_x100(0, 0), 300);
        assert_eq!(score_x100(5, 1), 318);
        assert_eq!(score_x100(90, 20), 400);
        assert!(score_x100(5, 1) < score_x100(90, 20));
        assert_eq!(score_x100(500, 100), 481);
    }
}
