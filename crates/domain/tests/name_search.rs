//! A few hundred real-world names (tests/data/names.txt), each with the reading a
//! standard pinyin dictionary gives for that person: found by the initials of that
//! reading, whole and in part, in upper and lower case. The readings were written by
//! hand; this test also checks them against the `pinyin` crate's dictionary data (with
//! heteronyms), so that a typo in the list cannot pass for a reading.

use domain::pinyin::{key_matches, search_key, search_query};
use pinyin::ToPinyinMulti;

pub const NAMES: &str = include_str!("data/names.txt");

/// (name, syllables) for every line of the list.
fn names() -> Vec<(String, Vec<String>)> {
    NAMES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, reading) = l.split_once('\t').expect("name TAB reading");
            (
                name.to_string(),
                reading.split_whitespace().map(String::from).collect(),
            )
        })
        .collect()
}

fn han(name: &str) -> Vec<char> {
    name.chars().filter(|c| c.is_alphanumeric()).collect()
}

fn dictionary_readings(c: char) -> Vec<String> {
    c.to_pinyin_multi()
        .map(|m| m.into_iter().map(|p| p.plain().replace('ü', "v")).collect())
        .unwrap_or_default()
}

#[test]
fn the_list_is_a_few_hundred_names_read_as_the_dictionary_reads_them() {
    let list = names();
    assert!(list.len() >= 300, "{} names", list.len());
    let mut unique: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), list.len(), "no name twice");
    let mut outside = Vec::new();
    for (name, reading) in &list {
        let chars = han(name);
        assert_eq!(
            chars.len(),
            reading.len(),
            "{name}: one syllable per character"
        );
        for (c, r) in chars.iter().zip(reading) {
            if !dictionary_readings(*c).contains(r) {
                outside.push(format!("{name}: {c} {r}"));
            }
        }
    }
    // A reading the dictionary does not list is either a slip in the list or a
    // special reading (金日磾's 日 is mì); few, and each one looked at.
    assert!(
        outside.len() * 100 <= list.len(),
        "readings not in the dictionary: {outside:?}"
    );
    assert_eq!(outside, ["金日磾: 日 mi"], "the known special reading only");
}

#[test]
fn at_least_99_percent_are_found_by_the_initials_of_their_reading() {
    let list = names();
    let mut missed = Vec::new();
    for (name, reading) in &list {
        let key = search_key(name);
        let initials: String = reading.iter().filter_map(|s| s.chars().next()).collect();
        let full: String = reading.concat();
        let mut queries = vec![
            initials.clone(),
            initials.to_uppercase(),
            full.clone(),
            // Partial: the first two initials, the given name's initials.
            initials.chars().take(2).collect(),
            initials.chars().skip(1).collect(),
            // Whole surname syllable then initials ("zhangxm").
            format!(
                "{}{}",
                reading[0],
                initials.chars().skip(1).collect::<String>()
            ),
        ];
        queries.retain(|q| !q.is_empty());
        for q in queries {
            if !key_matches(&key, &search_query(&q)) {
                missed.push(format!("{name} by {q:?}"));
            }
        }
    }
    let names_missed: std::collections::BTreeSet<&str> =
        missed.iter().filter_map(|m| m.split(' ').next()).collect();
    let found = list.len() - names_missed.len();
    assert!(
        found * 100 >= list.len() * 99,
        "{found} of {} found; missed: {missed:?}",
        list.len()
    );
    println!("{found} of {} names found by every query", list.len());
}
