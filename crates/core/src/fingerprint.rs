//! A 128-bit key standing for a text (a finding's id or lifecycle identity) in the in-memory
//! sets and maps the steps keep per finding: 16 bytes whatever the text's length.

use std::hash::{BuildHasher, RandomState};
use std::sync::LazyLock;

/// One secret key, drawn when the process starts. Nothing keyed with it leaves the process, so
/// it need not be the same from one invocation to the next.
static KEY: LazyLock<RandomState> = LazyLock::new(RandomState::new);

/// The key for `text`: two outputs of the standard library's keyed SipHash (a pseudo-random
/// function of the text under a key no input can know), one for each half, told apart by a
/// leading byte. Two of n texts share a key with a chance of about n² / 2^129 (10^-27 for a
/// million), as with a hash truncated to 128 bits, and inputs cannot be chosen to collide
/// without the key. A cryptographic hash (SHA-256 before) would answer the same at three times
/// the cost, which the steps paid several times per finding.
pub fn of(text: &str) -> u128 {
    let half = |domain: u8| u128::from(KEY.hash_one((domain, text)));
    (half(0) << 64) | half(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_has_one_key_and_texts_their_own() {
        assert_eq!(of("finding/1"), of("finding/1"));
        assert_ne!(of("finding/1"), of("finding/2"));
        // Both halves carry the text: neither is left constant.
        let (a, b) = (of("a"), of("b"));
        assert_ne!(a >> 64, b >> 64);
        assert_ne!(a as u64, b as u64);
        // The halves are not one hash twice.
        assert_ne!(a >> 64, a & u128::from(u64::MAX));
        let keys: std::collections::HashSet<u128> = (0..100_000)
            .map(|i| {
                of(&format!(
                    "arn:aws:inspector2:eu-west-1:111122223333:finding/{i}"
                ))
            })
            .collect();
        assert_eq!(keys.len(), 100_000);
    }
}
