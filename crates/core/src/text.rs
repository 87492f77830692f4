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

#[cfg(test)]
mod tests {
    use super::*;

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
}
