//! The scratch bucket of a fleet simulation ([`crate::Bucket::Scratch`]): objects in memory up
//! to [`MEMORY_BYTES`], past that appended to a few large files. A simulation writes and
//! removes hundreds of thousands of objects it only counts: as a file each, creating and
//! deleting the inodes and copying every byte into the page cache cost the kernel more than a
//! third of the run; the objects of the executions under way at once fit in memory, and a
//! larger fleet spills instead of running out of it.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

/// Object bytes kept in memory at most; the rest go to the packs.
const MEMORY_BYTES: u64 = 4 << 30;

/// A pack takes objects until it holds this many bytes; then the next one is started.
const PACK_BYTES: u64 = 256 << 20;

/// Where an object's body is.
enum Body {
    Memory(Vec<u8>),
    Packed { pack: u64, offset: u64, len: u64 },
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::Memory(b) => b.len() as u64,
            Body::Packed { len, .. } => *len,
        }
    }
}

struct Pack {
    file: File,
    path: PathBuf,
    len: u64,
    /// Objects still stored in it: at none (and no longer written to) the file is deleted.
    live: usize,
}

/// The objects (by key), those in memory counted, and the packs holding the rest, in `dir`.
pub(crate) struct Scratch {
    dir: PathBuf,
    objects: BTreeMap<String, Body>,
    in_memory: u64,
    memory_limit: u64,
    packs: BTreeMap<u64, Pack>,
    next: u64,
}

impl Scratch {
    pub(crate) fn new(dir: &Path) -> Self {
        Self::with_memory_limit(dir, MEMORY_BYTES)
    }

    fn with_memory_limit(dir: &Path, memory_limit: u64) -> Self {
        Self {
            dir: dir.to_owned(),
            objects: BTreeMap::new(),
            in_memory: 0,
            memory_limit,
            packs: BTreeMap::new(),
            next: 0,
        }
    }

    /// Stores `body` as `key` (replacing what it held); `if_absent`: only if `key` holds
    /// nothing. Whether it was stored.
    pub(crate) fn put(
        &mut self,
        key: &str,
        body: Vec<u8>,
        if_absent: bool,
    ) -> std::io::Result<bool> {
        if if_absent && self.objects.contains_key(key) {
            return Ok(false);
        }
        if let Some(old) = self.objects.remove(key) {
            self.forget(old)?;
        }
        let len = body.len() as u64;
        let stored = if self.in_memory.saturating_add(len) <= self.memory_limit {
            self.in_memory += len;
            Body::Memory(body)
        } else {
            self.append(&body)?
        };
        self.objects.insert(key.to_owned(), stored);
        Ok(true)
    }

    fn append(&mut self, body: &[u8]) -> std::io::Result<Body> {
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
        let stored = Body::Packed {
            pack: id,
            offset: pack.len,
            len,
        };
        pack.len += len;
        pack.live += 1;
        Ok(stored)
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
        match self.objects.get(key) {
            None => Ok(None),
            Some(Body::Memory(body)) => Ok(Some(body.clone())),
            Some(&Body::Packed { pack, offset, len }) => {
                let Some(pack) = self.packs.get(&pack) else {
                    return Err(std::io::Error::other(format!("the pack of {key} was lost")));
                };
                let mut body = vec![0; usize::try_from(len).map_err(std::io::Error::other)?];
                pack.file.read_exact_at(&mut body, offset)?;
                Ok(Some(body))
            }
        }
    }

    /// The keys starting with `prefix`, in order, with their sizes.
    pub(crate) fn under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, u64)> {
        self.objects
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, b)| (k.as_str(), b.len()))
    }

    /// Removes every object under `prefix`: their total size.
    pub(crate) fn remove_under(&mut self, prefix: &str) -> std::io::Result<u64> {
        let keys: Vec<String> = self.under(prefix).map(|(k, _)| k.to_owned()).collect();
        let mut bytes = 0;
        for key in keys {
            if let Some(body) = self.objects.remove(&key) {
                bytes += body.len();
                self.forget(body)?;
            }
        }
        Ok(bytes)
    }

    /// Gives back what a removed object took: its memory, or its place in a pack (a pack left
    /// with none, and not the one being written, is deleted).
    fn forget(&mut self, body: Body) -> std::io::Result<()> {
        let pack = match body {
            Body::Memory(b) => {
                self.in_memory = self.in_memory.saturating_sub(b.len() as u64);
                return Ok(());
            }
            Body::Packed { pack, .. } => pack,
        };
        let newest = self.packs.last_key_value().map(|(id, _)| *id);
        let Some(p) = self.packs.get_mut(&pack) else {
            return Ok(());
        };
        p.live = p.live.saturating_sub(1);
        if p.live == 0
            && Some(pack) != newest
            && let Some(p) = self.packs.remove(&pack)
        {
            drop(p.file);
            std::fs::remove_file(&p.path)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("scanflow-scratch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn files(d: &Path) -> usize {
        std::fs::read_dir(d).map_or(0, |e| e.count())
    }

    fn put(s: &mut Scratch, key: &str, body: &[u8]) -> bool {
        s.put(key, body.to_vec(), false).expect("put")
    }

    #[test]
    fn objects_read_back_replace_and_are_removed_by_prefix() {
        // A limit of 5 bytes: some objects in memory, some packed, read the same way.
        let d = dir("basic");
        let mut s = Scratch::with_memory_limit(&d, 5);
        assert!(put(&mut s, "a/1", b"one"));
        assert!(put(&mut s, "a/2", b"two!"));
        assert_eq!(files(&d), 1, "past the memory limit objects go to a pack");
        assert!(put(&mut s, "b/1", b""));
        assert!(!s.put("a/1", b"again".to_vec(), true).expect("put"));
        assert_eq!(s.get("a/1").expect("get").as_deref(), Some(&b"one"[..]));
        assert!(put(&mut s, "a/1", b"uno"));
        assert_eq!(s.get("a/1").expect("get").as_deref(), Some(&b"uno"[..]));
        assert_eq!(s.get("a/2").expect("get").as_deref(), Some(&b"two!"[..]));
        assert_eq!(s.get("b/1").expect("get").as_deref(), Some(&b""[..]));
        assert_eq!(s.get("a").expect("get"), None);
        let under: Vec<_> = s.under("a/").collect();
        assert_eq!(under, vec![("a/1", 3), ("a/2", 4)]);
        assert_eq!(s.remove_under("a/").expect("remove"), 7);
        assert_eq!(s.get("a/2").expect("get"), None);
        assert_eq!(s.under("").count(), 1);
        assert_eq!(s.in_memory, 0);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn memory_takes_objects_up_to_its_limit_and_frees_room_as_they_go() {
        let d = dir("memory");
        let mut s = Scratch::with_memory_limit(&d, 10);
        put(&mut s, "x/1", b"0123456789");
        assert_eq!(files(&d), 0, "at the limit everything is in memory");
        put(&mut s, "x/2", b"!");
        assert_eq!(files(&d), 1, "one byte past it goes to a pack");
        s.remove_under("x/1").expect("remove");
        put(&mut s, "x/3", b"abc");
        assert!(matches!(s.objects.get("x/3"), Some(Body::Memory(_))));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_full_pack_is_deleted_once_its_objects_are_removed() {
        let d = dir("rotate");
        let mut s = Scratch::with_memory_limit(&d, 0);
        let big = vec![7u8; usize::try_from(PACK_BYTES / 2).expect("fits")];
        put(&mut s, "x/1", &big);
        put(&mut s, "x/2", &big);
        // At the limit the pack is full: the next object starts a second one.
        put(&mut s, "y/1", b"small");
        assert_eq!(files(&d), 2);
        assert_eq!(s.remove_under("x/").expect("remove"), PACK_BYTES);
        assert_eq!(files(&d), 1, "the full pack is deleted");
        assert_eq!(s.get("y/1").expect("get").as_deref(), Some(&b"small"[..]));
        // The pack being written stays while empty, and takes the next object.
        s.remove_under("y/").expect("remove");
        assert_eq!(files(&d), 1);
        put(&mut s, "z/1", b"z");
        assert_eq!(files(&d), 1);
        let _ = std::fs::remove_dir_all(&d);
    }
}
