//! The bucket's objects appended to a few large files ([`crate::Bucket::Packed`]): a fleet
//! simulation writes and removes hundreds of thousands of objects it only counts, and a file
//! each spent a sixth of its time in the kernel creating and deleting inodes; in memory, the
//! objects of a thousand executions under way at once would take gigabytes.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

/// A pack takes objects until it holds this many bytes; then the next one is started.
const PACK_BYTES: u64 = 256 << 20;

/// Where an object's body is.
#[derive(Debug, Clone, Copy)]
struct Stored {
    pack: u64,
    offset: u64,
    len: u64,
}

struct Pack {
    file: File,
    path: PathBuf,
    len: u64,
    /// Objects still stored in it: at none (and no longer written to) the file is deleted.
    live: usize,
}

/// The objects (by key) and the packs holding them, in `dir`.
pub(crate) struct Packs {
    dir: PathBuf,
    objects: BTreeMap<String, Stored>,
    packs: BTreeMap<u64, Pack>,
    next: u64,
}

impl Packs {
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            objects: BTreeMap::new(),
            packs: BTreeMap::new(),
            next: 0,
        }
    }

    /// Stores `body` as `key` (replacing what it held); `if_absent`: only if `key` holds
    /// nothing. Whether it was stored.
    pub(crate) fn put(&mut self, key: &str, body: &[u8], if_absent: bool) -> std::io::Result<bool> {
        if if_absent && self.objects.contains_key(key) {
            return Ok(false);
        }
        let len = body.len() as u64;
        let current = self
            .packs
            .last_key_value()
            .filter(|(_, p)| p.len.saturating_add(len) <= PACK_BYTES || p.len == 0)
            .map(|(id, _)| *id);
        let id = match current {
            Some(id) => id,
            None => self.start_pack()?,
        };
        let Some(pack) = self.packs.get_mut(&id) else {
            return Err(std::io::Error::other("a pack was lost"));
        };
        pack.file.write_all_at(body, pack.len)?;
        let stored = Stored {
            pack: id,
            offset: pack.len,
            len,
        };
        pack.len += len;
        pack.live += 1;
        if let Some(old) = self.objects.insert(key.to_owned(), stored) {
            self.forget(old)?;
        }
        Ok(true)
    }

    fn start_pack(&mut self) -> std::io::Result<u64> {
        std::fs::create_dir_all(&self.dir)?;
        let id = self.next;
        self.next += 1;
        let path = self.dir.join(format!("pack-{id:05}"));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        self.packs.insert(
            id,
            Pack {
                file,
                path,
                len: 0,
                live: 0,
            },
        );
        Ok(id)
    }

    /// The body of `key`, if it holds one.
    pub(crate) fn get(&self, key: &str) -> std::io::Result<Option<Vec<u8>>> {
        let Some(s) = self.objects.get(key) else {
            return Ok(None);
        };
        let Some(pack) = self.packs.get(&s.pack) else {
            return Err(std::io::Error::other(format!("the pack of {key} was lost")));
        };
        let mut body = vec![0; usize::try_from(s.len).map_err(std::io::Error::other)?];
        pack.file.read_exact_at(&mut body, s.offset)?;
        Ok(Some(body))
    }

    /// The keys starting with `prefix`, in order, with their sizes.
    pub(crate) fn under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, u64)> {
        self.objects
            .range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, s)| (k.as_str(), s.len))
    }

    /// Removes every object under `prefix`: their total size.
    pub(crate) fn remove_under(&mut self, prefix: &str) -> std::io::Result<u64> {
        let keys: Vec<String> = self.under(prefix).map(|(k, _)| k.to_owned()).collect();
        let mut bytes = 0;
        for key in keys {
            if let Some(s) = self.objects.remove(&key) {
                bytes += s.len;
                self.forget(s)?;
            }
        }
        Ok(bytes)
    }

    /// One object less in its pack; a pack left with none, and not the one being written,
    /// is deleted.
    fn forget(&mut self, s: Stored) -> std::io::Result<()> {
        let newest = self.packs.last_key_value().map(|(id, _)| *id);
        let Some(pack) = self.packs.get_mut(&s.pack) else {
            return Ok(());
        };
        pack.live = pack.live.saturating_sub(1);
        if pack.live == 0
            && Some(s.pack) != newest
            && let Some(pack) = self.packs.remove(&s.pack)
        {
            drop(pack.file);
            std::fs::remove_file(&pack.path)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("scanflow-packs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn files(d: &Path) -> usize {
        std::fs::read_dir(d).map_or(0, |e| e.count())
    }

    #[test]
    fn objects_read_back_replace_and_are_removed_by_prefix() {
        let d = dir("basic");
        let mut p = Packs::new(&d);
        assert!(p.put("a/1", b"one", false).expect("put"));
        assert!(p.put("a/2", b"two!", false).expect("put"));
        assert!(p.put("b/1", b"", false).expect("put"));
        assert!(!p.put("a/1", b"again", true).expect("put"));
        assert_eq!(p.get("a/1").expect("get").as_deref(), Some(&b"one"[..]));
        assert!(p.put("a/1", b"uno", false).expect("put"));
        assert_eq!(p.get("a/1").expect("get").as_deref(), Some(&b"uno"[..]));
        assert_eq!(p.get("b/1").expect("get").as_deref(), Some(&b""[..]));
        assert_eq!(p.get("a").expect("get"), None);
        let under: Vec<_> = p.under("a/").collect();
        assert_eq!(under, vec![("a/1", 3), ("a/2", 4)]);
        assert_eq!(p.remove_under("a/").expect("remove"), 7);
        assert_eq!(p.get("a/2").expect("get"), None);
        assert_eq!(p.under("").count(), 1);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_full_pack_is_deleted_once_its_objects_are_removed() {
        let d = dir("rotate");
        let mut p = Packs::new(&d);
        let big = vec![7u8; usize::try_from(PACK_BYTES / 2).expect("fits")];
        p.put("x/1", &big, false).expect("put");
        p.put("x/2", &big, false).expect("put");
        // At the limit the pack is full: the next object starts a second one.
        p.put("y/1", b"small", false).expect("put");
        assert_eq!(files(&d), 2);
        assert_eq!(p.remove_under("x/").expect("remove"), PACK_BYTES);
        assert_eq!(files(&d), 1, "the full pack is deleted");
        assert_eq!(p.get("y/1").expect("get").as_deref(), Some(&b"small"[..]));
        // The pack being written stays while empty, and takes the next object.
        p.remove_under("y/").expect("remove");
        assert_eq!(files(&d), 1);
        p.put("z/1", b"z", false).expect("put");
        assert_eq!(files(&d), 1);
        let _ = std::fs::remove_dir_all(&d);
    }
}
