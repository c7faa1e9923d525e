//! 身份证号: the 18-character citizen ID number (GB 11643-1999). Checks the format,
//! the province code, the birth date and the check digit; reads the birth date and sex
//! out of it; and masks it for screens, because an ID number is sensitive personal
//! information that a screen shows only as `3706**********1234`.
//!
//! Layout: 6-digit region code, 8-digit birth date `YYYYMMDD`, 3-digit sequence (odd
//! for men, even for women), check digit (`0`–`9` or `X`, ISO 7064 MOD 11-2).

use crate::codes::Sex;
use crate::error::DomainError;
use chrono::NaiveDate;

/// What an ID number says about its holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdNumber {
    /// The 6-digit region (administrative division) code where it was issued.
    pub region_code: String,
    /// The holder's date of birth.
    pub birth_date: NaiveDate,
    /// The holder's sex (odd 17th digit: male).
    pub sex: Sex,
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Province-level codes (first two digits) that exist: the mainland provinces, Hong
/// Kong, Macao and Taiwan residence permits (81–83) and foreigners' permanent residence
/// cards (91).
const PROVINCES: &[u32] = &[
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83, 91,
];

/// The check digit for the first 17 digits of an ID number, or `None` when `first17`
/// is not 17 ASCII digits.
pub fn check_digit(first17: &str) -> Option<char> {
    if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    CHECK_CHARS.get((sum % 11) as usize).copied()
}

/// An ID number as typed, put in its stored form (normalisation lives with all the
/// others, in [`crate::normalize`]).
pub use crate::normalize::normalize_id_number;

fn invalid(zh: impl Into<String>, en: impl Into<String>) -> DomainError {
    DomainError::new("invalid_id_number", zh, en).on_field("id_number")
}

/// A character of a typed ID number as it may be quoted in a message: printable, or
/// its code point.
fn quoted(c: char) -> String {
    if c.is_control() || crate::normalize::is_invisible(c) {
        format!("U+{:04X}", u32::from(c))
    } else {
        c.to_string()
    }
}

/// Checks an ID number in stored form (see [`normalize_id_number`]) and reads what it
/// says. Refused, each with its own sentence: not 18 characters; a character that is
/// not a digit among the first 17 (named, with its position) or a last character that
/// is neither a digit nor `X`; an unknown province; a birth date the calendar does not
/// have, one before 1900 or one after `today`; a wrong check digit (a mistyped or
/// swapped digit). Works on characters, never on byte positions: any text is safe.
pub fn parse_id_number(id: &str, today: NaiveDate) -> Result<IdNumber, DomainError> {
    let chars: Vec<char> = id.chars().collect();
    let len = chars.len();
    if len == 15 && chars.iter().all(char::is_ascii_digit) {
        return Err(invalid(
            "这是旧的15位身份证号，请填写现在使用的18位身份证号",
            "old 15-digit ID numbers are not accepted; use the 18-character number",
        ));
    }
    if len != 18 {
        return Err(invalid(
            format!("身份证号应为18位，现在是{len}位"),
            format!("an ID number has 18 characters, not {len}"),
        ));
    }
    if let Some((i, c)) = chars
        .iter()
        .take(17)
        .enumerate()
        .find(|(_, c)| !c.is_ascii_digit())
    {
        let (pos, shown) = (i + 1, quoted(*c));
        return Err(invalid(
            format!("身份证号第{pos}位“{shown}”不是数字：前17位应为数字，最后一位为数字或X"),
            format!("character {pos} of the ID number ({shown:?}) is not a digit: an ID number is 17 digits followed by a digit or X"),
        ));
    }
    let last = chars[17];
    if !(last == 'X' || last.is_ascii_digit()) {
        let shown = quoted(last);
        return Err(invalid(
            format!("身份证号最后一位“{shown}”应为数字或X"),
            format!("the last character of the ID number ({shown:?}) must be a digit or X"),
        ));
    }
    // From here on the first 17 characters are ASCII digits.
    let digit = |i: usize| chars[i].to_digit(10).unwrap_or(0);
    let number = |r: std::ops::Range<usize>| r.fold(0u32, |n, i| n * 10 + digit(i));
    let text =
        |r: std::ops::Range<usize>| chars.iter().skip(r.start).take(r.len()).collect::<String>();
    let province = number(0..2);
    if !PROVINCES.contains(&province) {
        let p = text(0..2);
        return Err(invalid(
            format!("身份证号开头“{p}”不是有效的省份代码"),
            format!("{p:?} is not a province code"),
        ));
    }
    let (y, m, d) = (number(6..10), number(10..12), number(12..14));
    let written = text(6..14);
    let no_such_day =
        !(1..=12).contains(&m) || d == 0 || d > sync_core::schema::days_in_month(y, m);
    if no_such_day {
        return Err(invalid(
            format!(
                "身份证号中的出生日期“{written}”不存在（{y}年没有{m}月{d}日），请核对第7到14位"
            ),
            format!("the birth date {written:?} in the ID number does not exist"),
        ));
    }
    let birth_date = NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(|| {
        invalid(
            format!("身份证号中的出生日期“{written}”不存在"),
            format!("the birth date {written:?} in the ID number does not exist"),
        )
    })?;
    if y < sync_core::schema::MIN_YEAR {
        return Err(invalid(
            format!("身份证号中的出生日期（{birth_date}）早于1900年，请核对第7到14位"),
            format!("the birth date {birth_date} in the ID number is before 1900"),
        ));
    }
    if birth_date > today {
        return Err(invalid(
            format!("身份证号中的出生日期（{birth_date}）晚于今天"),
            format!("the birth date {birth_date} in the ID number is in the future"),
        ));
    }
    let first17 = text(0..17);
    if check_digit(&first17) != Some(last) {
        return Err(invalid(
            "身份证号校验不通过，可能有数字抄错或前后颠倒，请逐位核对",
            "the ID number's check digit does not match: a digit is probably mistyped",
        ));
    }
    let sex = if digit(16) % 2 == 1 {
        Sex::Male
    } else {
        Sex::Female
    };
    Ok(IdNumber {
        region_code: text(0..6),
        birth_date,
        sex,
    })
}

/// An ID number for a screen: the first 4 and last 4 characters, the rest `*`
/// (`370602201501011235` → `3706**********1235`). Anything too short to hide its middle
/// (fewer than 15 characters) is masked entirely. Never reveals more than 8 characters.
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let n = chars.len();
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if n >= 15 && (i < 4 || i >= n - 4) {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// Whether a field holds an ID number (`id_number`, `principal_id_number`, …): the
/// one rule for which fields every screen masks.
pub fn is_id_number_field(field: &str) -> bool {
    field.ends_with("id_number")
}

/// A text for a screen with every 身份证号-looking run in it (15 to 18 digits, the
/// 18th maybe `X`) masked by [`mask_id_number`]: an agreement's text, a note, a value a
/// field was not meant to hold. The device's views, the console's pages and exports
/// all mask through this and [`mask_field_for_screen`].
pub fn mask_id_numbers_in_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while j < chars.len()
            && (chars[j].is_ascii_digit()
                || (j > i && j - i == 17 && matches!(chars[j], 'X' | 'x')))
        {
            j += 1;
        }
        if j - i >= 15 {
            let run: String = chars[i..j].iter().collect();
            out.push_str(&mask_id_number(&run));
            i = j;
        } else if j > i {
            out.extend(&chars[i..j]);
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// A field's value as any screen shows it: an ID-number field masked whole, any
/// ID-number-looking run in other text masked, everything else as it is.
pub fn mask_field_for_screen(field: &str, value: &str) -> String {
    if is_id_number_field(field) {
        mask_id_number(value)
    } else {
        mask_id_numbers_in_text(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 5, 20).unwrap()
    }

    fn code(id: &str) -> Option<&'static str> {
        parse_id_number(id, today()).err().map(|e| e.code)
    }

    #[test]
    fn the_standard_example_is_valid_and_says_female_born_1949() {
        let id = parse_id_number("11010519491231002X", today()).unwrap();
        assert_eq!(id.region_code, "110105");
        assert_eq!(
            id.birth_date,
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(id.sex, Sex::Female);
    }

    #[test]
    fn yantai_children_with_correct_check_digits_are_valid() {
        let boy = parse_id_number("370602201501011235", today()).unwrap();
        assert_eq!(boy.sex, Sex::Male);
        assert_eq!(boy.birth_date, NaiveDate::from_ymd_opt(2015, 1, 1).unwrap());
        let girl = parse_id_number("370687201006070020", today()).unwrap();
        assert_eq!(girl.sex, Sex::Female);
        // Born on a leap day.
        assert!(parse_id_number("370602202002290043", today()).is_ok());
    }

    #[test]
    fn a_mistyped_digit_fails_the_check_digit() {
        // The brief's example has the wrong check digit (4 instead of 5).
        assert_eq!(code("370602201501011234"), Some("invalid_id_number"));
        // Two digits swapped.
        assert_eq!(code("370602201510011235"), Some("invalid_id_number"));
    }

    #[test]
    fn impossible_numbers_are_refused_with_a_reason() {
        let zh = |id| parse_id_number(id, today()).unwrap_err().zh;
        assert!(zh("3706022015010112").contains("18位"));
        assert!(zh("370602150101123").contains("15位"));
        assert!(zh("11010519491231002x").contains("最后一位“x”"));
        assert!(zh("990602201501011235").contains("省份代码"));
        // 2018 is not a leap year (check digit computed for the bad date).
        assert!(zh("370613201802290038").contains("不存在"));
        // Born after today.
        let future = format!(
            "37060220300101123{}",
            check_digit("37060220300101123").unwrap()
        );
        assert!(zh(&future).contains("晚于今天"));
    }

    #[test]
    fn typed_numbers_are_normalised() {
        assert_eq!(
            normalize_id_number(" 110105 19491231 002x"),
            "11010519491231002X"
        );
        assert_eq!(
            normalize_id_number("１１０１０５\u{3000}１９４９１２３１００２ｘ\u{200b}"),
            "11010519491231002X"
        );
    }

    #[test]
    fn the_mask_shows_only_the_first_and_last_four() {
        assert_eq!(mask_id_number("370602201501011234"), "3706**********1234");
        assert_eq!(mask_id_number("12345"), "*****");
        assert_eq!(mask_id_number(""), "");
    }

    proptest! {
        #[test]
        fn mask_never_reveals_more_than_first_four_and_last_four(s in "\\PC{0,30}") {
            let masked = mask_id_number(&s);
            let orig: Vec<char> = s.chars().collect();
            let m: Vec<char> = masked.chars().collect();
            prop_assert_eq!(m.len(), orig.len());
            let n = orig.len();
            for (i, c) in m.iter().enumerate() {
                if i >= 4 && i + 4 < n {
                    prop_assert_eq!(*c, '*');
                }
            }
            if n < 15 {
                prop_assert!(m.iter().all(|c| *c == '*'));
            }
        }

        #[test]
        fn every_number_with_its_check_digit_parses_and_any_one_digit_change_fails(
            province in prop::sample::select(PROVINCES.to_vec()),
            rest_of_region in 0u32..10_000,
            days in 0i64..40_000,
            seq in 0u32..1000,
            pos in 0usize..17,
            bump in 1u8..10,
        ) {
            let birth = NaiveDate::from_ymd_opt(1915, 1, 1).unwrap() + chrono::Days::new(days as u64);
            prop_assume!(birth <= today());
            let first17 = format!("{province:02}{rest_of_region:04}{}{seq:03}", birth.format("%Y%m%d"));
            let id = format!("{first17}{}", check_digit(&first17).unwrap());
            let parsed = parse_id_number(&id, today()).unwrap();
            prop_assert_eq!(parsed.birth_date, birth);
            prop_assert_eq!(parsed.sex == Sex::Male, seq % 2 == 1);

            let mut bytes = id.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + bump) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(parse_id_number(&changed, today()).is_err(), "{}", changed);
        }
    }

    #[test]
    fn every_id_number_in_a_text_or_an_id_field_is_masked_one_way() {
        let t = mask_id_numbers_in_text("甲方身份证号：37060219800101123X，电话 13800000000。");
        assert!(t.contains("3706**********123X"), "{t}");
        assert!(
            t.contains("13800000000"),
            "a phone number is not an ID number: {t}"
        );
        assert_eq!(
            mask_field_for_screen("principal_id_number", "370602198001011234"),
            mask_id_number("370602198001011234")
        );
        assert_eq!(mask_field_for_screen("id_number", "12345"), "*****");
        assert_eq!(
            mask_field_for_screen("notes", "号码370602198001011234"),
            "号码3706**********1234"
        );
    }
}
