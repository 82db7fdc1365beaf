//! What may reach a terminal. Agents write text orx shows (item titles, notes, failure messages,
//! logs); a title holding `ESC]0;…BEL` would retitle the terminal and `ESC[2J` would clear it.
//! Every line the printer writes goes through [`sanitize`].

use std::borrow::Cow;

const ESC: char = '\u{1b}';

/// `text` without control characters and escape sequences, except tab, newline and colour
/// (SGR: `ESC [ digits;… m`, which only changes how the following text looks).
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != ESC {
            if !is_unsafe(c) {
                out.push(c);
            }
            continue;
        }
        match chars.peek() {
            // CSI: parameters, intermediates, one final byte. Only SGR is kept.
            Some('[') => {
                chars.next();
                let mut seq = String::new();
                let mut last = None;
                for n in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&n) {
                        last = Some(n);
                        break;
                    }
                    seq.push(n);
                    if seq.len() > 64 {
                        break;
                    }
                }
                if last == Some('m') && seq.chars().all(|c| c.is_ascii_digit() || c == ';') {
                    out.push(ESC);
                    out.push('[');
                    out.push_str(&seq);
                    out.push('m');
                }
            }
            // OSC, DCS, SOS, PM, APC: a string ended by BEL or ESC \.
            Some(']' | 'P' | 'X' | '^' | '_') => {
                chars.next();
                while let Some(n) = chars.next() {
                    if n == '\u{7}' {
                        break;
                    }
                    if n == ESC {
                        if chars.peek() == Some(&'\\') {
                            chars.next();
                        }
                        break;
                    }
                }
            }
            // Any other escape: ESC and the character after it.
            Some(_) => {
                chars.next();
            }
            None => {}
        }
    }
    Cow::Owned(out)
}

/// C0 controls but tab and newline, DEL, C1 controls.
fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || c == ESC
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_clears_and_bells_are_dropped_colours_and_text_stay() {
        let hostile = "Add \u{1b}]0;pwned\u{7}login\u{1b}[2J\u{1b}[H page\u{7}\r\u{9b}";
        assert_eq!(sanitize(hostile), "Add login page");
        let coloured = "\u{1b}[1;31merror:\u{1b}[0m tab\tand\nnewline";
        assert_eq!(sanitize(coloured), coloured);
        assert!(matches!(sanitize("plain"), Cow::Borrowed(_)));
        // An OSC ended by ESC \ and a cut sequence at the end.
        assert_eq!(sanitize("a\u{1b}]8;;http://x\u{1b}\\b\u{1b}["), "ab");
    }
}
