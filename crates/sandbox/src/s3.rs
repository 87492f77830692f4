//! The report bucket as a local folder: `<out>/s3/<key>`, with keys checked so none escapes it;
//! or, for a fleet simulation, a scratch bucket in memory ([`crate::scratch`]).

use std::future::{Future, ready};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use scanflow_core::ScanError;
use scanflow_core::ports::{LINK_MAX_HOURS, ObjectLink, ReportStore};

use crate::Shared;
use crate::scratch::Scratch;

/// S3 object keys are at most 1,024 bytes.
const KEY_MAX: usize = 1024;

/// [`ReportStore`] over `<out>/s3`.
pub struct LocalS3 {
    shared: Arc<Shared>,
    root: PathBuf,
    /// `Some`: the objects are kept here, not a file each ([`Bucket::Scratch`]).
    scratch: Option<Mutex<Scratch>>,
}

/// Where the sandbox keeps the bucket's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// A file each under `<out>/s3`: what `scanflow run` leaves for people to open.
    Folder,
    /// In memory, spilling to a few large files under `<out>/s3-scratch` ([`crate::scratch`]),
    /// for a fleet simulation, which counts its objects and opens none. Links name files that
    /// are not there; findings reports seeded as files (older runs) are not read.
    Scratch,
}

impl LocalS3 {
    pub(crate) fn new(shared: Arc<Shared>, root: PathBuf, bucket: Bucket) -> Self {
        let scratch = (bucket == Bucket::Scratch).then(|| {
            let dir = root.with_file_name(format!(
                "{}-scratch",
                root.file_name()
                    .map_or("s3".into(), |n| n.to_string_lossy())
            ));
            Mutex::new(Scratch::new(&dir))
        });
        Self {
            shared,
            root,
            scratch,
        }
    }

    fn objects(&self) -> Option<std::sync::MutexGuard<'_, Scratch>> {
        self.scratch
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    fn scratch_error(&self, key: &str, e: &std::io::Error) -> ScanError {
        ScanError::internal(format!("the scratch bucket, object {key}: {e}"))
    }

    /// Removes every object under `prefix`, returning their total size (a simulation counts
    /// an ended execution's objects, then lets them go).
    pub fn remove_prefix(&self, prefix: &str) -> Result<u64, ScanError> {
        if let Some(mut objects) = self.objects() {
            return objects
                .remove_under(prefix)
                .map_err(|e| self.scratch_error(prefix, &e));
        }
        let dir = self.path_of(prefix.trim_end_matches('/'))?;
        let bytes = dir_bytes(&dir);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ScanError::internal(
                format!("removing {}: {e}", dir.display()),
            )),
            _ => Ok(bytes),
        }
    }

    /// The bytes stored under `prefix` (`""`: the whole bucket).
    pub fn bytes_under(&self, prefix: &str) -> Result<u64, ScanError> {
        if let Some(objects) = self.objects() {
            return Ok(objects.under(prefix).map(|(_, len)| len).sum());
        }
        if prefix.is_empty() {
            return Ok(dir_bytes(&self.root));
        }
        Ok(dir_bytes(&self.path_of(prefix.trim_end_matches('/'))?))
    }

    /// The folder standing for the bucket.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The file holding `key`, once the key is known to stay inside the bucket folder.
    pub fn path_of(&self, key: &str) -> Result<PathBuf, ScanError> {
        let problem = if key.is_empty() {
            Some("is empty".to_owned())
        } else if key.len() > KEY_MAX {
            Some(format!("is {} bytes, over S3's {KEY_MAX}", key.len()))
        } else if key.starts_with('/') || key.contains('\\') || key.contains('\0') {
            Some(format!("{key:?} starts with '/' or holds '\\' or NUL"))
        } else if key
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        {
            Some(format!(
                "{key:?} has an empty, '.' or '..' segment, which the sandbox cannot store as a file"
            ))
        } else {
            None
        };
        match problem {
            Some(problem) => Err(ScanError::invalid(
                "key",
                "an S3 key of '/'-separated names without '..'",
                problem,
            )),
            None => Ok(self.root.join(key)),
        }
    }

    fn not_found(&self, key: &str) -> ScanError {
        ScanError::NotFound {
            account_id: self.shared.scenario.hub.account_id.clone(),
            region: self.shared.scenario.hub.region.clone(),
            what: format!("S3 object {key}"),
            detail: "NoSuchKey: the specified key does not exist".into(),
        }
    }

    /// Opens the file for `key` with `options`, creating its folder when it is missing: the
    /// folder is made only on the first write under it, not tried on every write (a fleet
    /// simulation writes hundreds of thousands of objects).
    fn open_writable(
        &self,
        key: &str,
        options: &std::fs::OpenOptions,
    ) -> Result<(PathBuf, std::io::Result<std::fs::File>), ScanError> {
        let path = self.path_of(key)?;
        let opened = match options.open(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| write_error(&path, &e))?;
                }
                options.open(&path)
            }
            opened => opened,
        };
        Ok((path, opened))
    }

    fn put_now(&self, key: &str, body: Vec<u8>) -> Result<(), ScanError> {
        self.shared.count("s3:PutObject", 1);
        self.write(key, body)
    }

    /// Creates the file only if it does not exist (`create_new` is atomic, like S3's
    /// `If-None-Match: *`).
    fn put_if_absent_now(&self, key: &str, body: Vec<u8>) -> Result<bool, ScanError> {
        use std::io::Write as _;
        self.shared.count("s3:PutObject", 1);
        if let Some(mut objects) = self.objects() {
            self.path_of(key)?;
            return objects
                .put(key, body, true)
                .map_err(|e| self.scratch_error(key, &e));
        }
        let (path, opened) = self.open_writable(
            key,
            std::fs::OpenOptions::new().write(true).create_new(true),
        )?;
        let io = |e: std::io::Error| write_error(&path, &e);
        match opened {
            Ok(mut file) => file.write_all(&body).map(|()| true).map_err(io),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io(e)),
        }
    }

    fn get_now(&self, key: &str) -> Result<Vec<u8>, ScanError> {
        self.shared.count("s3:GetObject", 1);
        self.read(key)
    }

    /// Reads `key` without counting a call (the sandbox reading its own seeds).
    pub(crate) fn read(&self, key: &str) -> Result<Vec<u8>, ScanError> {
        let path = self.path_of(key)?;
        if let Some(objects) = self.objects() {
            return objects
                .get(key)
                .map_err(|e| self.scratch_error(key, &e))?
                .ok_or_else(|| self.not_found(key));
        }
        match std::fs::read(&path) {
            Ok(body) => Ok(body),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::IsADirectory
                ) =>
            {
                Err(self.not_found(key))
            }
            Err(e) if path.is_dir() => {
                tracing::debug!(key, error = %e, "key names a folder");
                Err(self.not_found(key))
            }
            Err(e) => Err(ScanError::internal(format!(
                "reading {}: {e}",
                path.display()
            ))),
        }
    }
}

impl LocalS3 {
    /// Writes `key` as the world was before the run (seeding), without counting an API call.
    pub(crate) fn seed(&self, key: &str, body: &[u8]) -> Result<(), ScanError> {
        self.write(key, body.to_vec())
    }

    fn write(&self, key: &str, body: Vec<u8>) -> Result<(), ScanError> {
        use std::io::Write as _;
        if let Some(mut objects) = self.objects() {
            self.path_of(key)?;
            return objects
                .put(key, body, false)
                .map(drop)
                .map_err(|e| self.scratch_error(key, &e));
        }
        let (path, opened) = self.open_writable(
            key,
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true),
        )?;
        opened
            .and_then(|mut file| file.write_all(&body))
            .map_err(|e| write_error(&path, &e))
    }

    /// A presigned link is the object's file (the sandbox has no HTTP); the lifetime is
    /// checked as the SDK checks it. Without one, the S3 console's page, as in AWS.
    fn link_now(
        &self,
        key: &str,
        valid_for: Option<std::time::Duration>,
    ) -> Result<ObjectLink, ScanError> {
        let path = self.path_of(key)?;
        let hub = &self.shared.scenario.hub;
        let Some(valid_for) = valid_for else {
            return Ok(ObjectLink::Console {
                url: scanflow_core::console::s3_object(&hub.region, &self.bucket_name(), key),
            });
        };
        if valid_for > std::time::Duration::from_secs(u64::from(LINK_MAX_HOURS) * 3600) {
            return Err(ScanError::invalid(
                "ReportLinkHours",
                format!("at most {LINK_MAX_HOURS} hours (7 days, SigV4's limit)"),
                format!("asks for {} s", valid_for.as_secs()),
            ));
        }
        let path = std::path::absolute(&path)
            .map_err(|e| ScanError::internal(format!("{}: {e}", path.display())))?;
        Ok(ObjectLink::File {
            url: format!("file://{}", path.to_string_lossy().replace(' ', "%20")),
        })
    }

    /// The sandbox's name for the hub bucket (the hub template lets CloudFormation name it).
    pub fn bucket_name(&self) -> String {
        format!("scanflow-reports-{}", self.shared.scenario.hub.account_id)
    }

    fn list_now(&self, prefix: &str) -> Result<Vec<String>, ScanError> {
        let mut keys = Vec::new();
        let mut folders = vec![self.root.clone()];
        if let Some(objects) = self.objects() {
            keys.extend(objects.under(prefix).map(|(k, _)| k.to_owned()));
            folders.clear();
        }
        while let Some(dir) = folders.pop() {
            let entries = std::fs::read_dir(&dir)
                .map_err(|e| ScanError::internal(format!("listing {}: {e}", dir.display())))?;
            for entry in entries {
                let path = entry
                    .map_err(|e| ScanError::internal(format!("listing {}: {e}", dir.display())))?
                    .path();
                if path.is_dir() {
                    folders.push(path);
                } else if let Ok(rel) = path.strip_prefix(&self.root) {
                    // Keys use '/', whatever the platform's separator.
                    let key = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/");
                    if key.starts_with(prefix) {
                        keys.push(key);
                    }
                }
            }
        }
        keys.sort();
        // ListObjectsV2 returns at most 1,000 keys a page.
        self.shared.count(
            "s3:ListObjectsV2",
            (keys.len() as u64).div_ceil(1000).max(1),
        );
        Ok(keys)
    }
}

impl ReportStore for LocalS3 {
    fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        _content_type: &str,
    ) -> impl Future<Output = Result<(), ScanError>> + Send {
        ready(self.put_now(key, body))
    }

    fn get(&self, key: &str) -> impl Future<Output = Result<Vec<u8>, ScanError>> + Send {
        ready(self.get_now(key))
    }

    fn put_if_absent(
        &self,
        key: &str,
        body: Vec<u8>,
        _content_type: &str,
    ) -> impl Future<Output = Result<bool, ScanError>> + Send {
        ready(self.put_if_absent_now(key, body))
    }

    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, ScanError>> + Send {
        ready(self.list_now(prefix))
    }

    fn link(
        &self,
        key: &str,
        valid_for: Option<std::time::Duration>,
    ) -> impl Future<Output = Result<ObjectLink, ScanError>> + Send {
        ready(self.link_now(key, valid_for))
    }
}

/// The size of the files under `dir` (none when it is missing).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

fn write_error(path: &std::path::Path, e: &std::io::Error) -> ScanError {
    ScanError::internal(format!("writing {}: {e}", path.display()))
}
