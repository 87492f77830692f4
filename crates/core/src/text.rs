//! Text that people read (e-mail digests and notices, the CLI trace): one sanitiser, so a
//! value from a finding, a tag or an execution input can never forge a line, move the
//! terminal's cursor or reorder what is shown. Control characters and the invisible
//! formatting characters (bidirectional overrides, zero-width characters) are made visible as
//! `<U+XXXX>`; line breaks stay only where scanflow puts them. Machine documents (SIEM JSON)
//! keep the exact text: JSON escapes it.

/// Whether `c` changes how the text around it is shown without being seen itself: the
/// bidirectional controls (embeddings, overrides, isolates, marks) and the zero-width ones.
fn invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'                  // Arabic letter mark
        | '\u{200B}'..='\u{200F}'   // zero-width space, non-joiner, joiner; LRM, RLM
        | '\u{2028}' | '\u{2029}'   // line and paragraph separators
        | '\u{202A}'..='\u{202E}'   // LRE, RLE, PDF, LRO, RLO
        | '\u{2060}'..='\u{2064}'   // word joiner and invisible operators
        | '\u{2066}'..='\u{2069}'   // LRI, RLI, FSI, PDI
        | '\u{FEFF}'                // zero-width no-break space (BOM)
        | '\u{FFF9}'..='\u{FFFB}'   // interlinear annotation controls
    )
}

fn visible(c: char, out: &mut String) {
    use std::fmt::Write as _;
    let _ = write!(out, "<U+{:04X}>", u32::from(c));
}

/// One line of text for people: line breaks and tabs become spaces, every other control
/// character and invisible formatting character becomes `<U+XXXX>`.
pub fn line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() || invisible_format(c) => visible(c, &mut out),
            c => out.push(c),
        }
    }
    out
}

/// A block of text for people that scanflow laid out itself: its `\n` line breaks stay (a
/// `\r` goes), everything else `line` neutralises is made visible. Values inserted into it
/// should have been passed through [`line`] first, so they cannot add lines of their own.
pub fn block(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push('\n'),
            '\r' => {}
            '\t' => out.push_str("    "),
            c if c.is_control() || invisible_format(c) => visible(c, &mut out),
            c => out.push(c),
        }
    }
    out
}

/// The width of plain text for people: RFC 5322's recommended 78 characters per line.
pub const WIDTH: usize = 78;

/// Whether `word` must stay whole however long it is, so it can be copied or clicked: a URL
/// or an ARN. Such a word gets a line of its own when it does not fit.
pub fn unbreakable(word: &str) -> bool {
    ["https://", "http://", "file://", "arn:"]
        .iter()
        .any(|p| word.starts_with(p))
}

/// `text` (one paragraph: it should have been through [`line`]) filled into lines of at most
/// `width` characters, broken at spaces: the first line starts with `first`, the others with
/// `rest`. A word longer than a line is cut into line-long pieces, except an [`unbreakable`]
/// one, which is put alone on its line at full length. Every line ends with `\n`.
pub fn wrap(text: &str, width: usize, first: &str, rest: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = first.to_owned();
    let mut len = first.chars().count();
    let mut has_word = false;
    for mut word in text.split(' ').filter(|w| !w.is_empty()) {
        loop {
            let word_len = word.chars().count();
            let need = word_len + usize::from(has_word);
            if len + need <= width || (!has_word && unbreakable(word)) {
                if has_word {
                    line.push(' ');
                }
                line.push_str(word);
                len += need;
                has_word = true;
                break;
            }
            if has_word {
                lines.push(std::mem::replace(&mut line, rest.to_owned()));
                len = rest.chars().count();
                has_word = false;
                continue;
            }
            // Alone on its line and still too long: cut it at the line's end (at least one
            // character, so this always ends).
            let room = width.saturating_sub(len).max(1);
            let cut = word.char_indices().nth(room).map_or(word.len(), |(i, _)| i);
            line.push_str(&word[..cut]);
            lines.push(std::mem::replace(&mut line, rest.to_owned()));
            len = rest.chars().count();
            word = &word[cut..];
            if word.is_empty() {
                break;
            }
        }
    }
    if has_word || lines.is_empty() {
        lines.push(if has_word {
            line
        } else {
            first.trim_end().to_owned()
        });
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// What marks text that was cut.
pub const CUT_MARK: &str = "…";

/// Cuts `s` to at most `max` characters, marking the cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
    cut.push_str(CUT_MARK);
    cut
}

/// A value on one line of text for people: [`line`], trimmed, then cut to `max` characters, at
/// a space when there is one in the last quarter, so no word is cut.
pub fn one_line(s: &str, max: usize) -> String {
    let clean = line(s);
    let clean = clean.trim();
    if clean.chars().count() <= max {
        return clean.to_owned();
    }
    let head: String = clean.chars().take(max.saturating_sub(1)).collect();
    let keep = head.chars().count();
    match head.rfind(' ') {
        Some(space) if head[..space].chars().count() >= keep - keep / 4 => {
            format!("{}{CUT_MARK}", head[..space].trim_end())
        }
        _ => clip(clean, max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widths(text: &str) -> Vec<usize> {
        text.lines().map(|l| l.chars().count()).collect()
    }

    #[test]
    fn wrapping_breaks_at_spaces_within_the_width_and_indents_continuations() {
        let text = "CVE-2024-6387 - openssh-server: a signal handler race condition in sshd \
                    allows unauthenticated remote code execution as root";
        let out = wrap(text, 40, "  - ", "    ");
        assert_eq!(
            out,
            "  - CVE-2024-6387 - openssh-server: a\n    signal handler race condition in\n    \
             sshd allows unauthenticated remote\n    code execution as root\n"
        );
        // Every word is kept whole and in order.
        let words: Vec<&str> = out.split_whitespace().filter(|w| *w != "-").collect();
        let given: Vec<&str> = text.split_whitespace().filter(|w| *w != "-").collect();
        assert_eq!(words, given);
        // A line exactly at the width stays one line; one character more wraps.
        assert_eq!(wrap("aaaa bbbb", 9, "", ""), "aaaa bbbb\n");
        assert_eq!(wrap("aaaa bbbbb", 9, "", ""), "aaaa\nbbbbb\n");
        assert_eq!(wrap("", 9, "x: ", ""), "x:\n");
    }

    #[test]
    fn urls_and_arns_stay_whole_and_other_overlong_words_are_cut_at_the_width() {
        let url = format!("https://example.com/{}", "p".repeat(100));
        assert_eq!(
            wrap(&format!("see {url} now"), 20, "", "  "),
            format!("see\n  {url}\n  now\n")
        );
        let arn = format!(
            "arn:aws:inspector:us-east-1:111122223333:target/{}",
            "x".repeat(60)
        );
        assert_eq!(widths(&wrap(&arn, 30, "Run: ", "  ")), vec![5 + arn.len()]);
        let long = "y".repeat(95);
        let out = wrap(&long, 40, "", "");
        assert_eq!(widths(&out), vec![40, 40, 15]);
        assert_eq!(out.replace('\n', ""), long);
        // A thousand-character title of ordinary words never passes the width.
        let title = "word ".repeat(200);
        assert!(
            widths(&wrap(&title, WIDTH, "      ", "      "))
                .iter()
                .all(|&w| w <= WIDTH)
        );
        // Multi-byte characters are counted as characters and never split.
        let cjk = "東".repeat(50);
        assert_eq!(widths(&wrap(&cjk, 20, "", "")), vec![20, 20, 10]);
    }

    #[test]
    fn controls_and_invisible_formatting_are_made_visible() {
        // A terminal escape, NUL, DEL and a C1 control.
        assert_eq!(
            line("a\u{1b}[2Jb\0c\u{7f}d\u{85}e"),
            "a<U+001B>[2Jb<U+0000>c<U+007F>d<U+0085>e"
        );
        // A right-to-left override that would show "exe.txt" as "txt.exe", and isolates.
        assert_eq!(line("invoice\u{202E}txt.exe"), "invoice<U+202E>txt.exe");
        for c in [
            '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{200B}', '\u{FEFF}',
        ] {
            assert!(line(&format!("x{c}y")).starts_with("x<U+"), "{c:?}");
        }
        // Ordinary text in any script stays as it is.
        assert_eq!(line("Zürich – 東京 – القاهرة"), "Zürich – 東京 – القاهرة");
    }

    #[test]
    fn values_cannot_forge_lines_but_layout_keeps_its_own() {
        let forged = "prod\nAccount:    999999999999\r\nRegion: x";
        assert_eq!(line(forged).lines().count(), 1);
        assert!(!line(forged).contains('\n'));
        let laid_out = format!("Target:     {}\nRun:        r-1\n", line(forged));
        assert_eq!(block(&laid_out).lines().count(), 2);
        assert_eq!(block("a\r\nb\tc\u{202E}"), "a\nb    c<U+202E>");
    }

    #[test]
    fn every_char_is_handled_without_panic_and_lines_stay_lines() {
        let all: String = (0..=0x10FFFF_u32).filter_map(char::from_u32).collect();
        let one = line(&all);
        assert!(!one.contains('\n') && !one.contains('\r'));
        assert!(!one.chars().any(|c| c.is_control() || invisible_format(c)));
        let b = block(&all);
        assert_eq!(b.matches('\n').count(), 1);
        assert!(
            !b.chars()
                .any(|c| (c.is_control() && c != '\n') || invisible_format(c))
        );
    }

    #[test]
    fn clip_marks_the_cut_and_one_line_cuts_at_a_word() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "ab…");
        assert_eq!(one_line(" a\nb ", 10), "a b");
        assert_eq!(one_line("openssh server package", 16), "openssh server…");
        assert_eq!(one_line("abcdefghijkl", 5), "abcd…");
    }
}
