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
/// without the key. A cryptographic hash (SHA-256 before) answers the same at a higher cost,
/// which the steps pay several times per finding.
///
/// Bytes, not a `u128`: a `u128` is aligned to 16 bytes, which pads a map entry beside it (an
/// id's `u32` index: 32 bytes an entry, not 20).
pub fn of(text: &str) -> [u8; 16] {
    let mut key = [0u8; 16];
    for (domain, half) in key.chunks_exact_mut(8).enumerate() {
        half.copy_from_slice(&KEY.hash_one((domain as u8, text)).to_le_bytes());
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_has_one_key_and_texts_their_own() {
        assert_eq!(of("finding/1"), of("finding/1"));
        assert_ne!(of("finding/1"), of("finding/2"));
        // Both halves carry the text, and they are not one hash twice.
        let (a, b) = (of("a"), of("b"));
        assert_ne!(a[..8], b[..8]);
        assert_ne!(a[8..], b[8..]);
        assert_ne!(a[..8], a[8..]);
        let keys: std::collections::HashSet<[u8; 16]> = (0..100_000)
            .map(|i| {
                of(&format!(
                    "arn:aws:inspector2:eu-west-1:111122223333:finding/{i}"
                ))
            })
            .collect();
        assert_eq!(keys.len(), 100_000);
    }
}
