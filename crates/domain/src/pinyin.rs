//! Finding a child by name on a phone keyboard: by a piece of the Chinese name
//! (`小花`) or by the pinyin initials (`lxh` for 李小花). The initials are computed once
//! when a name is saved and searched many times.

use pinyin::ToPinyin;

/// Surnames whose reading as a surname differs from the character's common reading
/// (曾 is zēng as a surname, not céng). Only the first character of a name is read so.
const SURNAME_INITIALS: &[(char, char)] = &[
    ('曾', 'z'),
    ('单', 's'),
    ('解', 'x'),
    ('仇', 'q'),
    ('朴', 'p'),
    ('区', 'o'),
    ('查', 'z'),
    ('翟', 'z'),
    ('盖', 'g'),
    ('缪', 'm'),
    ('尉', 'y'),
    ('覃', 'q'),
    ('召', 's'),
    ('种', 'c'),
    ('乐', 'y'),
    ('长', 'z'),
];

/// The pinyin initials of a name, lowercase: the first letter of each Han character's
/// plain pinyin (`李小花` → `lxh`). Latin letters and digits are kept, lowercased;
/// spaces and punctuation (the `·` in 阿卜杜·热合曼) are dropped.
pub fn name_initials(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.trim().chars().enumerate() {
        let surname = (i == 0)
            .then(|| SURNAME_INITIALS.iter().find(|(s, _)| *s == c))
            .flatten();
        if let Some((_, initial)) = surname {
            out.push(*initial);
        } else if let Some(p) = c.to_pinyin() {
            out.extend(p.plain().chars().next());
        } else if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Whether a search `query` finds the child named `name` whose stored initials are
/// `initials`: a query with Chinese characters matches a piece of the name; any other
/// query matches a piece of the initials or of the name, ignoring case and spaces. An
/// empty query matches everyone.
pub fn name_matches(name: &str, initials: &str, query: &str) -> bool {
    let q: String = query
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    if q.is_empty() {
        return true;
    }
    if q.chars().any(|c| c.to_pinyin().is_some()) {
        return name.contains(&q);
    }
    initials.to_lowercase().contains(&q) || name.to_lowercase().contains(&q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_are_the_first_letters_of_each_syllable() {
        assert_eq!(name_initials("李小花"), "lxh");
        assert_eq!(name_initials("王芳"), "wf");
        assert_eq!(name_initials("欧阳娜娜"), "oynn");
    }

    #[test]
    fn surnames_are_read_as_surnames() {
        assert_eq!(name_initials("曾小明"), "zxm");
        assert_eq!(name_initials("单田芳"), "stf");
        // Only at the start: 小曾 is xiao zeng / ceng, not a surname position.
        assert!(name_initials("吕小曾").starts_with('l'));
    }

    #[test]
    fn other_characters_are_kept_lowercased_or_dropped() {
        assert_eq!(name_initials("阿卜杜·热合曼"), "abdrhm");
        assert_eq!(name_initials("Anna 李"), "annal");
    }

    #[test]
    fn search_finds_a_child_by_chinese_or_by_initials() {
        let (name, initials) = ("李小花", name_initials("李小花"));
        assert!(name_matches(name, &initials, "小花"));
        assert!(name_matches(name, &initials, "LXH"));
        assert!(name_matches(name, &initials, "lx"));
        assert!(name_matches(name, &initials, "xh"));
        assert!(name_matches(name, &initials, " "));
        assert!(!name_matches(name, &initials, "小明"));
        assert!(!name_matches(name, &initials, "wf"));
    }
}
