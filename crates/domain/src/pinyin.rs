//! Finding a child by name on a phone keyboard: by a piece of the Chinese name
//! (`小花`), by the pinyin initials (`lxh` for 李小花), by whole or partial syllables
//! (`lixh`, `xiaohua`), or a mix (`李xh`).
//!
//! A name is indexed once, when it is saved, as a [search key](search_key): for each
//! character every plausible reading — all readings of a polyphonic character (长 is
//! cháng and zhǎng, 重 zhòng and chóng, 乐 lè and yuè, 行 xíng and háng), and for the
//! first one or two characters the readings as a surname, single or compound (尉 yù,
//! 万俟 mòqí, 单于 chányú, 秘 bì, 宓 fú, 句 gōu, 隗 wěi/kuí, 曾 zēng, 单 shàn, …). The
//! readings come from the `pinyin` crate's data with heteronyms (Unicode Unihan
//! kMandarin, kHanyuPinyin and friends, via mozillazg/pinyin-data) and a table of
//! surname readings. A query [matches](key_matches) when, from some character of the
//! name on, each next piece of the query is the character itself or the beginning of
//! one of its readings — so any standard reading's initials find the name, whole or
//! in part, upper or lower case.
//!
//! Key format (stored in the roster, read by [`key_matches`]): one entry per character
//! separated by a space, each entry the character followed by its readings, separated
//! by commas: `长,zhang,chang 乐,le,yue`.

use pinyin::{ToPinyin, ToPinyinMulti};

/// Single-character surnames read, as surnames, in ways the heteronym data may list
/// late or not at all. Read so only in the first position of a name.
const SURNAME_READINGS: &[(char, &[&str])] = &[
    ('曾', &["zeng"]),
    ('单', &["shan"]),
    ('解', &["xie"]),
    ('仇', &["qiu"]),
    ('朴', &["piao"]),
    ('区', &["ou"]),
    ('查', &["zha"]),
    ('翟', &["zhai", "di"]),
    ('盖', &["ge", "gai"]),
    ('缪', &["miao"]),
    ('尉', &["yu", "wei"]),
    ('覃', &["qin", "tan"]),
    ('召', &["shao"]),
    ('种', &["chong"]),
    ('乐', &["yue", "le"]),
    ('长', &["chang", "zhang"]),
    ('秘', &["bi"]),
    ('宓', &["fu", "mi"]),
    ('句', &["gou", "ju"]),
    ('隗', &["wei", "kui"]),
    ('重', &["chong"]),
    ('朝', &["chao", "zhao"]),
    ('行', &["xing", "hang"]),
    ('华', &["hua"]),
    ('任', &["ren"]),
    ('燕', &["yan"]),
    ('那', &["na"]),
    ('能', &["nai"]),
    ('员', &["yun"]),
    ('过', &["guo"]),
    ('繁', &["po"]),
    ('折', &["she"]),
    ('祭', &["zhai"]),
    ('番', &["pan"]),
    ('蕃', &["pi"]),
    ('洗', &["xian"]),
    ('冼', &["xian"]),
    ('沈', &["shen"]),
    ('纪', &["ji"]),
    ('贲', &["ben"]),
    ('逄', &["pang"]),
    ('郇', &["huan", "xun"]),
    ('眭', &["sui"]),
    ('阚', &["kan"]),
    ('佴', &["nai"]),
    ('柏', &["bai"]),
    ('褚', &["chu"]),
    ('哈', &["ha"]),
    ('奇', &["qi"]),
    ('相', &["xiang"]),
    ('车', &["che"]),
    ('万', &["wan", "mo"]),
    ('薄', &["bo"]),
    ('谌', &["shen", "chen"]),
    ('臧', &["zang"]),
    ('粘', &["nian"]),
    ('莘', &["shen", "xin"]),
    ('訾', &["zi"]),
    ('嵇', &["ji"]),
    ('适', &["kuo", "shi"]),
    ('角', &["jue"]),
    ('曲', &["qu"]),
    ('黑', &["hei", "he"]),
    ('费', &["fei"]),
    ('靳', &["jin"]),
    ('亢', &["kang"]),
    ('鲜', &["xian"]),
    ('藏', &["zang"]),
    ('阿', &["a"]),
];

/// Two-character (compound) surnames with their readings as surnames, for the first
/// two characters of a name.
const COMPOUND_SURNAMES: &[(&str, [&str; 2])] = &[
    ("万俟", ["mo", "qi"]),
    ("尉迟", ["yu", "chi"]),
    ("单于", ["chan", "yu"]),
    ("澹台", ["tan", "tai"]),
    ("长孙", ["zhang", "sun"]),
    ("乐正", ["yue", "zheng"]),
    ("令狐", ["ling", "hu"]),
    ("子车", ["zi", "ju"]),
    ("亓官", ["qi", "guan"]),
    ("句龙", ["gou", "long"]),
    ("綦毋", ["qi", "wu"]),
    ("鲜于", ["xian", "yu"]),
    ("闾丘", ["lv", "qiu"]),
    ("谷梁", ["gu", "liang"]),
    ("羊舌", ["yang", "she"]),
    ("欧阳", ["ou", "yang"]),
    ("上官", ["shang", "guan"]),
    ("皇甫", ["huang", "fu"]),
    ("司马", ["si", "ma"]),
    ("诸葛", ["zhu", "ge"]),
    ("夏侯", ["xia", "hou"]),
    ("呼延", ["hu", "yan"]),
    ("宇文", ["yu", "wen"]),
    ("长鱼", ["chang", "yu"]),
];

/// The longest name the matcher reads, in characters (the schema allows 40).
const MAX_KEY_CHARS: usize = 64;
/// The longest query the matcher reads, in characters.
const MAX_QUERY_CHARS: usize = 63;

/// The readings of one character, lower case and without tones, `ü` written `v` (and
/// also `u`, as many people type it).
fn readings(c: char, out: &mut Vec<String>) {
    let mut push = |s: &str| {
        let s = s.replace('ü', "v");
        if !out.contains(&s) {
            out.push(s.clone());
        }
        if s.contains('v') {
            let u = s.replace('v', "u");
            if !out.contains(&u) {
                out.push(u);
            }
        }
    };
    if let Some(multi) = c.to_pinyin_multi() {
        for p in multi {
            push(p.plain());
        }
    } else if let Some(p) = c.to_pinyin() {
        push(p.plain());
    }
}

/// The characters of a name that take part in search: the name's letters, digits and
/// Chinese characters, full-width forms made ASCII; spaces and punctuation (the `·` in
/// 阿卜杜·热合曼) dropped.
fn name_chars(name: &str) -> Vec<char> {
    name.chars()
        .map(crate::normalize::ascii_char)
        .filter(|c| c.is_alphanumeric())
        .take(MAX_KEY_CHARS)
        .collect()
}

/// The search key of a name (see the module documentation for the format): every
/// plausible reading of every character, surname readings for the first one or two.
pub fn search_key(name: &str) -> String {
    let chars = name_chars(name);
    let compound = COMPOUND_SURNAMES.iter().find(|(s, _)| {
        let mut it = s.chars();
        it.next() == chars.first().copied() && it.next() == chars.get(1).copied()
    });
    let mut key = String::new();
    let mut alts: Vec<String> = Vec::new();
    for (i, &c) in chars.iter().enumerate() {
        alts.clear();
        if let Some((_, r)) = compound.filter(|_| i < 2) {
            alts.push(r[i].to_string());
        }
        if i == 0 {
            if let Some((_, r)) = SURNAME_READINGS.iter().find(|(s, _)| *s == c) {
                alts.extend(r.iter().map(|s| s.to_string()));
            }
        }
        readings(c, &mut alts);
        if !key.is_empty() {
            key.push(' ');
        }
        key.extend(c.to_lowercase());
        let mut seen: Vec<&str> = Vec::new();
        for a in &alts {
            if !seen.contains(&a.as_str()) {
                seen.push(a);
                key.push(',');
                key.push_str(a);
            }
        }
    }
    key
}

/// A query as typed, in the form [`key_matches`] and a substring search of the name
/// take: full-width forms made ASCII, lower case, spaces of every width removed.
/// Every other character is kept, so `%` or `_` find only a name that contains them.
pub fn search_query(typed: &str) -> String {
    crate::normalize::ascii_form(typed)
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .take(MAX_QUERY_CHARS)
        .collect()
}

/// Whether a [normalised query](search_query) matches a [search key](search_key): from
/// some character of the name on, each next piece of the query is the character itself
/// or a beginning of one of its readings (`lxh`, `lixh`, `xiaohua`, `李xh`, `xh`). An
/// empty query matches. Runs in time bounded by the name length times the query length.
pub fn key_matches(key: &str, query: &str) -> bool {
    let q: Vec<char> = query.chars().take(MAX_QUERY_CHARS).collect();
    key_matches_chars(key, &q)
}

/// [`key_matches`] with the query already split into characters (the roster's SQL
/// function splits it once per statement, not once per row).
pub fn key_matches_chars(key: &str, q: &[char]) -> bool {
    let len = q.len().min(MAX_QUERY_CHARS);
    let Some(&first) = q.first() else {
        return true;
    };
    // Quick refusal: some reading must begin with the query's first character.
    if !key.split([' ', ',']).any(|a| a.starts_with(first)) {
        return false;
    }
    let mut entries: [&str; MAX_KEY_CHARS] = [""; MAX_KEY_CHARS];
    let mut n = 0;
    for e in key.split(' ').take(MAX_KEY_CHARS) {
        entries[n] = e;
        n += 1;
    }
    let mut m = Matcher {
        entries,
        n,
        q,
        len,
        failed: [0; MAX_KEY_CHARS],
    };
    (0..n).any(|start| m.from(start, 0))
}

/// The search state of [`key_matches_chars`]: `failed[j]` has bit `i` set once matching
/// the query from its character `i` at entry `j` is known to fail, so each (entry,
/// query position) pair is tried once.
struct Matcher<'a> {
    entries: [&'a str; MAX_KEY_CHARS],
    n: usize,
    q: &'a [char],
    len: usize,
    failed: [u64; MAX_KEY_CHARS],
}

impl Matcher<'_> {
    fn from(&mut self, j: usize, i: usize) -> bool {
        if i >= self.len {
            return true;
        }
        if j >= self.n || self.failed[j] & (1 << i) != 0 {
            return false;
        }
        let entry = self.entries[j];
        for alt in entry.split(',') {
            let common = alt
                .chars()
                .enumerate()
                .take_while(|(t, a)| i + t < self.len && self.q.get(i + t) == Some(a))
                .count();
            // Longest piece first: whole syllables are the likelier reading.
            for k in (1..=common).rev() {
                if self.from(j + 1, i + k) {
                    return true;
                }
            }
        }
        self.failed[j] |= 1 << i;
        false
    }
}

/// The pinyin initials of a name by each character's most common reading, lowercase
/// (`李小花` → `lxh`). Latin letters and digits are kept, lowercased; spaces and
/// punctuation are dropped. For search use [`search_key`], which knows every reading.
pub fn name_initials(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name_chars(name).into_iter().enumerate() {
        let surname = (i == 0)
            .then(|| SURNAME_READINGS.iter().find(|(s, _)| *s == c))
            .flatten();
        if let Some((_, r)) = surname {
            out.extend(r.first().and_then(|r| r.chars().next()));
        } else if let Some(p) = c.to_pinyin() {
            out.extend(p.plain().chars().next());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Whether a search `query` (as typed) finds the child named `name` whose stored
/// [search key](search_key) is `key`: a piece of the name, or the key matches (see
/// [`key_matches`]). An empty query matches everyone.
pub fn name_matches(name: &str, key: &str, query: &str) -> bool {
    let q = search_query(query);
    q.is_empty() || name.to_lowercase().contains(&q) || key_matches(key, &q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finds(name: &str, query: &str) -> bool {
        name_matches(name, &search_key(name), query)
    }

    #[test]
    fn initials_are_the_first_letters_of_each_syllable() {
        assert_eq!(name_initials("李小花"), "lxh");
        assert_eq!(name_initials("王芳"), "wf");
        assert_eq!(name_initials("欧阳娜娜"), "oynn");
        assert_eq!(name_initials("曾小明"), "zxm");
        assert_eq!(name_initials("阿卜杜·热合曼"), "abdrhm");
        assert_eq!(name_initials("Anna 李"), "annal");
    }

    #[test]
    fn the_key_lists_every_reading_of_every_character() {
        assert_eq!(search_key("李小花"), "李,li 小,xiao 花,hua");
        let key = search_key("长乐");
        assert!(key.starts_with("长,chang,zhang"), "{key}");
        assert!(
            key.contains("乐,le,yue") || key.contains("乐,yue,le"),
            "{key}"
        );
        assert_eq!(search_key("Ａnna·李"), "a n n a 李,li");
        assert_eq!(search_key(""), "");
    }

    #[test]
    fn a_name_is_found_by_the_initials_of_any_reading() {
        for (name, queries) in [
            (
                "李长江",
                &["lcj", "lzj", "LCJ", "lc", "cj", "changjiang", "lichj"][..],
            ),
            ("单田芳", &["stf", "dtf", "shantf"]),
            ("万俟卨", &["mqx", "wqx", "moqi"]),
            ("尉迟恭", &["ycg", "wcg", "yuchigong"]),
            ("单于丹", &["cyd", "chanyu"]),
            ("宓子贱", &["fzj", "mzj"]),
            ("句践", &["gj", "jj"]),
            ("隗嚣", &["wx", "kx"]),
            ("重耳", &["ce", "ze"]),
            ("王朝阳", &["wzy", "wcy"]),
            ("乐嘉", &["yj", "lj"]),
            ("张行", &["zx", "zh", "zhangh", "zhanghang"]),
            ("吕小绿", &["lxl", "lvxl", "luxl"]),
            ("李小花", &["李xh", "小花", "xh", "花"]),
        ] {
            for q in queries {
                assert!(
                    finds(name, q),
                    "{name} not found by {q:?} (key {})",
                    search_key(name)
                );
            }
        }
    }

    #[test]
    fn a_query_finds_only_what_it_says() {
        for (name, query) in [
            ("李小花", "lxm"),
            ("李小花", "wf"),
            ("李小花", "小明"),
            ("李小花", "%"),
            ("李小花", "_"),
            ("李小花", "l%"),
            ("李小花", "l_h"),
            ("李小花", "hx"),
        ] {
            assert!(!finds(name, query), "{name} must not be found by {query:?}");
        }
        assert!(finds("李小花", " "), "an empty query finds everyone");
        assert!(finds("50%的孩子", "%"), "a % finds a name that has one");
    }

    #[test]
    fn a_hostile_query_is_answered_quickly() {
        let name: String = std::iter::repeat_n('张', 40).collect();
        let key = search_key(&name);
        let q: String = "zh".repeat(31) + "q";
        // Memoised: about 40 × 63 states are tried, not 2^40 ways to split the query
        // (without the memo this test does not finish).
        assert!(!key_matches(&key, &search_query(&q)));
    }
}
