//! Line breaking for Chinese text mixed with numbers and Latin words.
//!
//! Chinese may break between any two characters, with the rules of Chinese typesetting
//! (标点禁则): closing punctuation (，。、；：？！）」》…) never starts a line and opening
//! punctuation (（「《“…) never ends one — the character before is carried to the next
//! line with it instead. A run of Latin letters, digits and their punctuation (an ID
//! number, a phone number, `10:05`, a hash) is one word, broken only after a space.
//! Only a word or a punctuation run wider than a whole line is cut where it must be
//! (a *forced* break).
//!
//! Pure and total: any string and any widths give lines that keep every visible
//! character once, in order.

use std::ops::Range;

/// One character as laid out: its bytes in the paragraph (with any invisible characters
/// that follow it, so the PDF's text layer keeps them), the character drawn, and its
/// advance in points.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Cluster {
    pub text: Range<usize>,
    pub ch: char,
    pub width: f32,
}

/// One line of a paragraph: clusters `start..end` are drawn (trailing spaces are not),
/// `next` is where the following line starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Line {
    pub start: usize,
    pub end: usize,
    /// Width of clusters `start..end` in points.
    pub width: f32,
    /// The paragraph's last line (not justified).
    pub last: bool,
    /// The line ends inside a word that is wider than the line.
    pub forced: bool,
}

const EPS: f32 = 0.01;

/// Characters with no visible form: control characters and Unicode's default-ignorable
/// code points (zero-width spaces and joiners, direction marks, variation selectors, the
/// byte-order mark, tags). They are not drawn but kept in the text layer.
pub(crate) fn is_invisible(c: char) -> bool {
    if c == '\t' {
        return false;
    }
    c.is_control()
        || matches!(c as u32,
            0x00AD | 0x034F | 0x061C | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F
            | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
            | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8 | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF)
}

/// Closing punctuation and marks that must not start a line.
pub(crate) fn no_start(c: char) -> bool {
    matches!(
        c,
        '，' | '。'
            | '、'
            | '；'
            | '：'
            | '？'
            | '！'
            | '）'
            | '」'
            | '』'
            | '】'
            | '》'
            | '〉'
            | '〕'
            | '〗'
            | '〙'
            | '〛'
            | '］'
            | '｝'
            | '”'
            | '’'
            | '…'
            | '‥'
            | '·'
            | '・'
            | '～'
            | '〜'
            | '％'
            | '‰'
            | '℃'
            | '°'
            | '．'
            | '﹐'
            | '｡'
            | '､'
            | '›'
            | '»'
            | ','
            | '.'
            | ';'
            | ':'
            | '?'
            | '!'
            | ')'
            | ']'
            | '}'
            | '%'
    )
}

/// Opening punctuation that must not end a line.
pub(crate) fn no_end(c: char) -> bool {
    matches!(
        c,
        '（' | '「'
            | '『'
            | '【'
            | '《'
            | '〈'
            | '〔'
            | '〖'
            | '〘'
            | '〚'
            | '［'
            | '｛'
            | '“'
            | '‘'
            | '‹'
            | '«'
            | '('
            | '['
            | '{'
            | '￥'
            | '¥'
            | '＄'
            | '$'
    )
}

/// Wide (CJK and fullwidth) characters, between which a line may break.
pub(crate) fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE10..=0xFE19 | 0xFE30..=0xFE6F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F | 0x1F900..=0x1F9FF | 0x20000..=0x3FFFD)
}

fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// May a line break between `prev` and `cur`?
pub(crate) fn can_break(prev: char, cur: char) -> bool {
    if is_space(cur) || no_start(cur) {
        return false;
    }
    if is_space(prev) {
        return true;
    }
    if no_end(prev) {
        return false;
    }
    // Two narrow characters belong to one word (digits, Latin, `10:05`).
    is_wide(prev) || is_wide(cur)
}

/// May a line break before cluster `b`? As [`can_break`], and not after spaces that
/// follow an opening mark (`（ 甲` keeps `（` off the line's end).
fn break_before(clusters: &[Cluster], b: usize) -> bool {
    let (Some(prev), Some(cur)) = (clusters.get(b.wrapping_sub(1)), clusters.get(b)) else {
        return false;
    };
    if !can_break(prev.ch, cur.ch) {
        return false;
    }
    if is_space(prev.ch) {
        let before = clusters[..b].iter().rev().find(|c| !is_space(c.ch));
        return !before.is_some_and(|c| no_end(c.ch));
    }
    true
}

/// The clusters of a paragraph (a string without line breaks): one per visible
/// character, invisible ones folded into the cluster before (or after, at the start).
/// A tab is drawn as a space.
pub(crate) fn clusters(text: &str, mut width: impl FnMut(char) -> f32) -> Vec<Cluster> {
    let mut out: Vec<Cluster> = Vec::new();
    let mut lead: Option<usize> = None; // start of invisible characters before the first
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        if is_invisible(c) {
            match out.last_mut() {
                Some(last) => last.text.end = end,
                None => {
                    lead.get_or_insert(i);
                }
            }
            continue;
        }
        let ch = if c == '\t' { ' ' } else { c };
        let w = width(ch);
        out.push(Cluster {
            text: lead.take().unwrap_or(i)..end,
            ch,
            width: if w.is_finite() && w > 0.0 { w } else { 0.0 },
        });
    }
    out
}

/// Fullwidth punctuation whose ink sits in the left half of its em box.
fn left_inked(c: char) -> bool {
    matches!(
        c,
        '，' | '。' | '、' | '；' | '：' | '）' | '」' | '』' | '】' | '》' | '〉' | '〕' | '〗'
    )
}

/// Fullwidth punctuation that pairs with a [`left_inked`] mark before it.
fn fullwidth_mark(c: char) -> bool {
    left_inked(c) || matches!(c, '（' | '「' | '『' | '【' | '《' | '〈' | '〔' | '〖')
}

/// Two fullwidth marks in a row (`）：`, `。」`, `，（`) would leave a whole em of white
/// between them: the first is set in half an em (标点挤压), as Chinese typesetting does.
pub(crate) fn compress_punctuation(clusters: &mut [Cluster], size: f32) {
    for i in 1..clusters.len() {
        if left_inked(clusters[i - 1].ch) && fullwidth_mark(clusters[i].ch) {
            let w = &mut clusters[i - 1].width;
            *w = w.min(size * 0.5);
        }
    }
}

/// Breaks `clusters` into lines: the first at most `first_width` wide, the others
/// `width`. Every line fits unless it is a single cluster wider than the line.
pub(crate) fn break_lines(clusters: &[Cluster], first_width: f32, width: f32) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    // The open line: start, drawn end, drawn width.
    let mut open: Option<(usize, usize, f32)> = None;
    let avail = |lines: &Vec<Line>| if lines.is_empty() { first_width } else { width };
    let sum = |r: Range<usize>| clusters[r].iter().map(|c| c.width).sum::<f32>();

    let mut a = 0;
    while a < clusters.len() {
        // The segment a..b: up to the next break opportunity.
        let mut b = a + 1;
        while b < clusters.len() && !break_before(clusters, b) {
            b += 1;
        }
        // Its drawn part a..c: without trailing spaces, unless it is all spaces.
        let mut c = b;
        while c > a + 1 && is_space(clusters[c - 1].ch) {
            c -= 1;
        }
        if c == a + 1 && is_space(clusters[a].ch) && b > a + 1 {
            c = b;
        }

        if let Some((start, end, w)) = open {
            // The spaces left after the open line's last word, then this segment.
            let grown = w + sum(end..c);
            if grown <= avail(&lines) + EPS {
                open = Some((start, c, grown));
                a = b;
                continue;
            }
            lines.push(Line {
                start,
                end,
                width: w,
                last: false,
                forced: false,
            });
        }

        // The segment starts a line.
        let seg = sum(a..c);
        if seg <= avail(&lines) + EPS {
            open = Some((a, c, seg));
        } else {
            // Wider than a line: cut it where it must be.
            let mut k = a;
            let mut w = 0.0;
            for (j, cluster) in clusters.iter().enumerate().take(c).skip(a) {
                let cw = cluster.width;
                if j > k && w + cw > avail(&lines) + EPS {
                    lines.push(Line {
                        start: k,
                        end: j,
                        width: w,
                        last: false,
                        forced: true,
                    });
                    k = j;
                    w = 0.0;
                }
                w += cw;
            }
            open = Some((k, c, w));
        }
        a = b;
    }
    if let Some((start, end, w)) = open {
        lines.push(Line {
            start,
            end,
            width: w,
            last: true,
            forced: false,
        });
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every character 10 pt wide, Latin 5 pt, spaces 3 pt.
    fn widths(c: char) -> f32 {
        if is_space(c) && c != '\u{3000}' {
            3.0
        } else if is_wide(c) || no_start(c) || no_end(c) {
            10.0
        } else {
            5.0
        }
    }

    fn lines_of(text: &str, width: f32) -> Vec<String> {
        let cl = clusters(text, widths);
        break_lines(&cl, width, width)
            .iter()
            .map(|l| cl[l.start..l.end].iter().map(|c| c.ch).collect())
            .collect()
    }

    #[test]
    fn chinese_breaks_between_any_two_characters() {
        assert_eq!(
            lines_of("甲方委托乙方照护儿童", 40.0),
            ["甲方委托", "乙方照护", "儿童"]
        );
    }

    #[test]
    fn closing_punctuation_never_starts_a_line() {
        // "甲方委托" fills the line; "，" may not start the next, so "托，" moves down.
        assert_eq!(
            lines_of("甲方委托，乙方照护。", 40.0),
            ["甲方委", "托，乙方", "照护。"]
        );
        assert_eq!(lines_of("儿童的父）。", 40.0), ["儿童的", "父）。"]);
        for text in [
            "一、二、三、四、五、六",
            "（一）照顾儿童；（二）保护安全：防溺水",
        ] {
            for width in [30.0, 40.0, 50.0, 60.0, 70.0] {
                for (i, l) in lines_of(text, width).iter().enumerate().skip(1) {
                    let first = l.chars().next().unwrap();
                    assert!(!no_start(first), "{text} at {width}: line {i} is {l}");
                }
            }
        }
    }

    #[test]
    fn opening_punctuation_never_ends_a_line() {
        assert_eq!(lines_of("甲方（委托人）", 30.0), ["甲方", "（委托", "人）"]);
        assert_eq!(lines_of("甲方（委托人）", 40.0), ["甲方（委", "托人）"]);
        assert_eq!(lines_of("签署「协议」", 30.0), ["签署", "「协", "议」"]);
    }

    #[test]
    fn numbers_and_latin_words_are_kept_whole() {
        assert_eq!(
            lines_of("电话：13912345678，", 80.0),
            ["电话：", "13912345678，"]
        );
        assert_eq!(lines_of("时间 10:05 签署", 60.0), ["时间 10:05", "签署"]);
        assert_eq!(
            lines_of("Signed by Wang Jianguo", 50.0),
            ["Signed by", "Wang", "Jianguo"]
        );
    }

    #[test]
    fn a_word_wider_than_a_line_is_cut_where_it_must_be() {
        let hash = "6166adb6163279264c154fdc7292555f";
        let cl = clusters(hash, widths);
        let lines = break_lines(&cl, 50.0, 50.0);
        assert_eq!(lines.len(), 4);
        assert!(lines[..3].iter().all(|l| l.forced && l.end - l.start == 10));
        assert!(lines[3].last && !lines[3].forced);
    }

    #[test]
    fn a_shorter_first_line_leaves_room_for_the_indent() {
        assert_eq!(
            breaks("甲方委托乙方照护儿童", 20.0, 40.0),
            ["甲方", "委托乙方", "照护儿童"]
        );
    }

    fn breaks(text: &str, first: f32, width: f32) -> Vec<String> {
        let cl = clusters(text, widths);
        break_lines(&cl, first, width)
            .iter()
            .map(|l| cl[l.start..l.end].iter().map(|c| c.ch).collect())
            .collect()
    }

    #[test]
    fn invisible_characters_stay_in_the_text_but_take_no_room() {
        let text = "\u{200b}甲\u{fe0f}乙\u{7}";
        let cl = clusters(text, widths);
        assert_eq!(cl.len(), 2);
        assert_eq!(&text[cl[0].text.clone()], "\u{200b}甲\u{fe0f}");
        assert_eq!(&text[cl[1].text.clone()], "乙\u{7}");
        assert!(clusters("\u{200b}\u{200d}", widths).is_empty());
        assert!(break_lines(&[], 10.0, 10.0).is_empty());
    }

    #[test]
    fn a_mark_before_another_mark_is_set_in_half_an_em() {
        let mut cl = clusters("人）：王，（一）。", widths);
        compress_punctuation(&mut cl, 10.0);
        let w: Vec<f32> = cl.iter().map(|c| c.width).collect();
        assert_eq!(w, [10.0, 5.0, 10.0, 10.0, 5.0, 10.0, 10.0, 5.0, 10.0]);
    }

    #[test]
    fn trailing_spaces_are_not_drawn() {
        let cl = clusters("ab  cd", widths);
        let lines = break_lines(&cl, 12.0, 12.0);
        assert_eq!((lines[0].start, lines[0].end), (0, 2));
        assert_eq!(lines[0].width, 10.0);
        assert_eq!((lines[1].start, lines[1].end), (4, 6));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn lines_keep_every_visible_character_in_order_and_fit(
            text in "[甲乙方，。、；：（）「」《》 abc123:.\u{3000}\u{200b}\\PC]{0,120}",
            width in 1.0f32..200.0,
            first in 1.0f32..200.0,
        ) {
            let cl = clusters(&text, widths);
            let lines = break_lines(&cl, first, width);
            let mut next = 0;
            for (i, l) in lines.iter().enumerate() {
                prop_assert!(l.start <= l.end && l.end <= cl.len());
                // Only spaces are left out between lines.
                prop_assert!(cl[next..l.start].iter().all(|c| is_space(c.ch)));
                next = l.end;
                let avail = if i == 0 { first } else { width };
                let w: f32 = cl[l.start..l.end].iter().map(|c| c.width).sum();
                prop_assert!((w - l.width).abs() < 0.01);
                prop_assert!(l.width <= avail + 0.02 || l.end - l.start == 1,
                    "line {i} is {} wide in {avail}", l.width);
                prop_assert_eq!(l.last, i + 1 == lines.len());
                if i > 0 && !lines[i - 1].forced {
                    // A line starts where a break is allowed: never on a space or a
                    // closing mark, never after an opening mark.
                    let first_char = cl[l.start].ch;
                    prop_assert!(!no_start(first_char) && !is_space(first_char));
                    let prev = &lines[i - 1];
                    prop_assert!(!no_end(cl[prev.end - 1].ch));
                }
            }
            prop_assert!(cl[next..].iter().all(|c| is_space(c.ch)));
            // The clusters hold every character once, in order.
            let mut at = 0;
            for c in &cl {
                prop_assert!(c.text.start >= at && c.text.end > c.text.start);
                at = c.text.end;
            }
            let kept: String = cl.iter().map(|c| &text[c.text.clone()]).collect();
            let strip = |s: &str| s.chars().filter(|c| !is_invisible(*c)).collect::<String>();
            prop_assert_eq!(strip(&kept), strip(&text));
        }
    }
}
