//! Deterministic identifiers and pseudo-randomness: every id and every generated value derives
//! from SHA-256 of its inputs, so the same scenario always simulates the same world.

use sha2::{Digest, Sha256};

/// SHA-256 over `parts`, each length-prefixed so that `["ab", "c"]` and `["a", "bc"]` differ.
pub(crate) fn digest(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

/// `len` lowercase hex characters (at most 64).
pub(crate) fn hex_id(parts: &[&str], len: usize) -> String {
    let mut s = hex::encode(digest(parts));
    s.truncate(len);
    s
}

/// `len` characters of `[0-9A-Za-z]`, like Inspector Classic's resource ids (`0-gEjTy7T7`).
pub(crate) fn base62_id(parts: &[&str], len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = Rng::new(parts);
    (0..len)
        .map(|_| char::from(ALPHABET[rng.below(ALPHABET.len() as u64) as usize]))
        .collect()
}

/// A version-4-shaped UUID (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`) derived from `parts`: the
/// same parts give the same id (ids in simulated accounts, names EventBridge would give).
pub fn uuid(parts: &[&str]) -> String {
    let mut b = digest(parts);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(&b[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// SplitMix64 seeded from a digest: cheap enough for 100,000 findings, and reproducible.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(parts: &[&str]) -> Self {
        let d = digest(parts);
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&d[..8]);
        Self(u64::from_le_bytes(seed))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0); the modulo bias is irrelevant at these sizes.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// True with probability `percent`/100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_shaped() {
        assert_eq!(uuid(&["a"]), uuid(&["a"]));
        assert_ne!(uuid(&["a", "b"]), uuid(&["ab"]));
        let u = uuid(&["x"]);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        let b = base62_id(&["run"], 8);
        assert_eq!(b.len(), 8);
        assert!(b.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(hex_id(&["f"], 32).len(), 32);
    }

    #[test]
    fn rng_stays_in_range() {
        let mut r = Rng::new(&["seed"]);
        for _ in 0..1000 {
            let v = r.between(3, 5);
            assert!((3..=5).contains(&v));
        }
        let mut a = Rng::new(&["s"]);
        let mut b = Rng::new(&["s"]);
        assert_eq!(a.next_u64(), b.next_u64());
    }
}
