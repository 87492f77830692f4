//! A streaming reader of Inspector v2 JSON findings reports: it is fed the object's bytes in
//! whatever chunks arrive (S3's body in the AWS adapter, a file in the sandbox) and hands out
//! one finding object at a time, so a report of any size is read with memory for one chunk and
//! one finding. Both adapters read reports with it, so they accept the same shapes.
//!
//! The report's shape is not documented, so three are accepted: `{"findings": [ ... ]}` (other
//! top-level keys ignored), a bare array `[ ... ]`, and JSON lines / concatenated objects.
//! Every finding ends at a known byte offset, the resume point for the next page.

/// Where reading resumes: the byte offset just past a finding, and whether findings there sit
/// inside an array (wrapper or bare) or at top level (JSON lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    pub offset: u64,
    pub in_array: bool,
}

impl Resume {
    pub const START: Resume = Resume {
        offset: 0,
        in_array: false,
    };
}

/// The report is not JSON of an accepted shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {problem}")]
pub struct ShapeError {
    pub offset: u64,
    pub problem: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Top level, before a value: an array, an object (finding or wrapper), or whitespace.
    TopLevel,
    /// Inside a top-level object that may still turn out to be the wrapper.
    TopObject,
    /// Inside the findings array, between elements.
    InArray,
    /// Inside one element of the findings array.
    Element,
    /// The findings array has closed: the rest of the document is not read.
    Done,
}

/// The incremental scanner. Feed bytes with [`Scanner::feed`]; call [`Scanner::finish`] at the
/// end of the object.
#[derive(Debug)]
pub struct Scanner {
    state: State,
    /// Absolute offset of the next byte fed.
    offset: u64,
    /// The object being collected (a finding, or a top-level object not yet classified).
    buf: Vec<u8>,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Raw text of the string being read at depth 1 of a top-level object.
    string: Vec<u8>,
    last_string: Option<Vec<u8>>,
    pending_key: Option<Vec<u8>>,
    /// Leading bytes still to check for a UTF-8 byte order mark.
    bom_left: u8,
}

impl Scanner {
    /// A scanner positioned at `resume` (use [`Resume::START`] for a whole object).
    pub fn new(resume: Resume) -> Self {
        Self {
            state: if resume.in_array {
                State::InArray
            } else {
                State::TopLevel
            },
            offset: resume.offset,
            buf: Vec::new(),
            depth: 0,
            in_string: false,
            escaped: false,
            string: Vec::new(),
            last_string: None,
            pending_key: None,
            bom_left: if resume.offset == 0 { 3 } else { 0 },
        }
    }

    /// Whether the findings array has ended (nothing more will be produced).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Scans `chunk`, calling `emit(finding_bytes, resume_after)` for each complete finding.
    /// `emit` returns `false` to stop; the bytes after that finding are then not consumed and
    /// the return value is how many were.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        mut emit: impl FnMut(&[u8], Resume) -> bool,
    ) -> Result<usize, ShapeError> {
        for (i, &b) in chunk.iter().enumerate() {
            let at = self.offset;
            self.offset += 1;
            if self.bom_left > 0 {
                let expected = [0xEF, 0xBB, 0xBF][usize::from(3 - self.bom_left)];
                if b == expected {
                    self.bom_left -= 1;
                    continue;
                }
                self.bom_left = 0;
            }
            if let Some((finding, resume)) = self.step(b, at)?
                && !emit(&finding, resume)
            {
                return Ok(i + 1);
            }
        }
        Ok(chunk.len())
    }

    /// Checks the document ended cleanly (no finding cut off).
    pub fn finish(&self) -> Result<(), ShapeError> {
        match self.state {
            State::TopLevel | State::Done => Ok(()),
            State::InArray => Err(self.error(self.offset, "the findings array is not closed")),
            State::TopObject | State::Element => {
                Err(self.error(self.offset, "the report ends inside a finding"))
            }
        }
    }

    fn error(&self, offset: u64, problem: &str) -> ShapeError {
        ShapeError {
            offset,
            problem: problem.to_owned(),
        }
    }

    /// Advances by one byte; returns a finished finding and where to resume after it.
    fn step(&mut self, b: u8, at: u64) -> Result<Option<(Vec<u8>, Resume)>, ShapeError> {
        match self.state {
            State::Done => Ok(None),
            State::TopLevel => match b {
                b' ' | b'\t' | b'\r' | b'\n' => Ok(None),
                b'[' => {
                    self.state = State::InArray;
                    Ok(None)
                }
                b'{' => {
                    self.state = State::TopObject;
                    self.start_object(b);
                    Ok(None)
                }
                _ => Err(self.error(at, "expected a findings object or array")),
            },
            State::InArray => match b {
                b' ' | b'\t' | b'\r' | b'\n' | b',' => Ok(None),
                b']' => {
                    self.state = State::Done;
                    Ok(None)
                }
                b'{' => {
                    self.state = State::Element;
                    self.start_object(b);
                    Ok(None)
                }
                _ => Err(self.error(at, "expected a finding object in the findings array")),
            },
            State::Element => {
                self.buf.push(b);
                if self.track(b) {
                    self.state = State::InArray;
                    let resume = Resume {
                        offset: at + 1,
                        in_array: true,
                    };
                    return Ok(Some((std::mem::take(&mut self.buf), resume)));
                }
                Ok(None)
            }
            State::TopObject => self.step_top_object(b, at),
        }
    }

    fn start_object(&mut self, b: u8) {
        self.buf.clear();
        self.buf.push(b);
        self.depth = 1;
        self.in_string = false;
        self.escaped = false;
        self.last_string = None;
        self.pending_key = None;
    }

    /// Tracks strings and nesting; true when the object just closed.
    fn track(&mut self, b: u8) -> bool {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
            }
            return false;
        }
        match b {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                self.depth -= 1;
                return self.depth == 0;
            }
            _ => {}
        }
        false
    }

    /// A top-level object is a finding (JSON lines) unless a `"findings": [` appears at its
    /// first level, which makes it the wrapper: its elements are then the findings.
    fn step_top_object(&mut self, b: u8, at: u64) -> Result<Option<(Vec<u8>, Resume)>, ShapeError> {
        let depth_before = self.depth;
        let was_in_string = self.in_string;
        if depth_before == 1 && was_in_string {
            let closing = !self.escaped && b == b'"';
            if !closing {
                self.string.push(b);
            }
        }
        if depth_before == 1 && !was_in_string {
            match b {
                b'"' => self.string.clear(),
                b':' => self.pending_key = self.last_string.take(),
                b',' => self.pending_key = None,
                b'[' if self.pending_key.as_deref() == Some(b"findings".as_slice()) => {
                    self.state = State::InArray;
                    self.buf.clear();
                    self.pending_key = None;
                    return Ok(None);
                }
                b'[' | b'{' => self.pending_key = None,
                _ => {}
            }
        }
        self.buf.push(b);
        let closed = self.track(b);
        if depth_before == 1 && was_in_string && !self.in_string {
            self.last_string = Some(std::mem::take(&mut self.string));
        }
        if closed {
            self.state = State::TopLevel;
            let resume = Resume {
                offset: at + 1,
                in_array: false,
            };
            return Ok(Some((std::mem::take(&mut self.buf), resume)));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `doc` in chunks of `chunk` bytes and returns the findings' `id`s and resumes.
    fn scan(doc: &str, chunk: usize, resume: Resume) -> Result<Vec<(String, Resume)>, ShapeError> {
        let mut scanner = Scanner::new(resume);
        let mut out = Vec::new();
        let start = usize::try_from(resume.offset).expect("small");
        for piece in doc.as_bytes()[start..].chunks(chunk) {
            scanner.feed(piece, |bytes, r| {
                let v: serde_json::Value = serde_json::from_slice(bytes).expect("finding is JSON");
                out.push((v["id"].as_str().unwrap_or_default().to_owned(), r));
                true
            })?;
        }
        scanner.finish()?;
        Ok(out)
    }

    fn ids(found: &[(String, Resume)]) -> Vec<&str> {
        found.iter().map(|(id, _)| id.as_str()).collect()
    }

    const WRAPPED: &str = r#"{"reportId":"r-1","meta":{"findings":[1]},"findings": [
        {"id":"a","title":"brace } and bracket ] in \"text\"","nested":{"findings":[{"id":"no"}]}},
        {"id":"b","tags":{"k":"v"}}
    ],"trailer":true}"#;

    #[test]
    fn wrapper_elements_are_the_findings_whatever_the_chunking() {
        for chunk in [1, 2, 7, 64, 10_000] {
            let found = scan(WRAPPED, chunk, Resume::START).expect("valid");
            assert_eq!(ids(&found), ["a", "b"], "chunk {chunk}");
        }
    }

    #[test]
    fn json_lines_and_bare_arrays() {
        let lines = "{\"id\":\"a\",\"findings\":\"text\"}\n{\"id\":\"b\"}\n\n{\"id\":\"c\"}";
        assert_eq!(
            ids(&scan(lines, 3, Resume::START).expect("lines")),
            ["a", "b", "c"]
        );
        let bare = "\u{feff}[{\"id\":\"a\"},{\"id\":\"b\"}]";
        assert_eq!(
            ids(&scan(bare, 5, Resume::START).expect("array")),
            ["a", "b"]
        );
        assert!(scan("", 1, Resume::START).expect("empty").is_empty());
        assert!(
            scan(r#"{"findings":[]}"#, 4, Resume::START)
                .expect("none")
                .is_empty()
        );
    }

    #[test]
    fn resuming_at_a_returned_offset_yields_the_rest() {
        let all = scan(WRAPPED, 16, Resume::START).expect("valid");
        let (_, after_first) = &all[0];
        assert!(after_first.in_array);
        let rest = scan(WRAPPED, 16, *after_first).expect("resume");
        assert_eq!(ids(&rest), ["b"]);
        let lines = "{\"id\":\"a\"}\n{\"id\":\"b\"}\n";
        let all = scan(lines, 4, Resume::START).expect("lines");
        let rest = scan(lines, 4, all[0].1).expect("resume lines");
        assert_eq!(ids(&rest), ["b"]);
    }

    #[test]
    fn stopping_early_reports_what_was_consumed() {
        let mut scanner = Scanner::new(Resume::START);
        let mut seen = 0;
        let used = scanner
            .feed(WRAPPED.as_bytes(), |_, _| {
                seen += 1;
                false
            })
            .expect("valid");
        assert_eq!(seen, 1);
        assert!(used < WRAPPED.len());
        assert_eq!(WRAPPED.as_bytes()[used - 1], b'}');
    }

    #[test]
    fn broken_reports_are_refused_with_the_offset() {
        for doc in [
            r#"{"findings":[{"id":"a"}"#,
            r#"{"findings":[{"id":"a""#,
            r#"{"findings":[1,2]}"#,
            r#""just a string""#,
        ] {
            let err = scan(doc, 3, Resume::START).expect_err(doc);
            assert!(err.to_string().contains("at byte"), "{err}");
        }
    }
}
