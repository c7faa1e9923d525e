//! Matching, as a county would meet it: one small roster, one list with every kind of
//! line, and what must come out.

use super::list_file::ListRow;
use super::matching::*;
use domain::FindingKind;
use std::collections::HashSet;
use uuid::Uuid;

/// A valid ID number for a birth date and a sequence (the check digit computed).
pub(crate) fn id(birth: &str, seq: u32) -> String {
    let first17 = format!("370602{birth}{seq:03}");
    let c = domain::id_number::check_digit(&first17).unwrap();
    format!("{first17}{c}")
}

fn row(line: usize, name: &str, id_number: &str) -> ListRow {
    let parsed = domain::parse_id_number(id_number, chrono::NaiveDate::MAX).unwrap();
    ListRow {
        line,
        name: name.into(),
        id_number: id_number.into(),
        birth_date: parsed.birth_date,
        sex: parsed.sex,
        address: None,
        village: None,
        township: None,
        household: None,
        relationship: None,
        disability_grade: None,
        category: None,
    }
}

struct World {
    roster: Roster,
    villages: VillageResolver,
    kind: ListKind,
    a: Uuid,
    b: Uuid,
    c: Uuid,
    d: Uuid,
}

fn world() -> World {
    let (a, b, c, d) = (
        Uuid::from_u128(0xa),
        Uuid::from_u128(0xb),
        Uuid::from_u128(0xc),
        Uuid::from_u128(0xd),
    );
    let child = |child_id, village: &str, name: &str, number: String| RosterChild {
        child_id,
        village: village.into(),
        name: name.into(),
        id_number: Some(number),
        active: true,
    };
    let roster = Roster::new(
        vec![
            child(a, "v1", "甲童", id("20140302", 11)),
            child(b, "v2", "乙童", id("20150101", 21)),
            child(c, "v1", "丙童", id("20160101", 31)),
            child(d, "v2", "丁童", id("20170101", 41)),
            // A child of another county is on the roster too (not "unlisted").
            child(Uuid::from_u128(0xe), "x9", "外县童", id("20120101", 51)),
        ],
        vec![
            RosterGuardian {
                guardian_id: Uuid::from_u128(0x100),
                child_id: c,
                id_number: id("19850101", 62),
                role: "mother".into(),
            },
            RosterGuardian {
                guardian_id: Uuid::from_u128(0x101),
                child_id: b,
                id_number: id("19800101", 71),
                role: "father".into(),
            },
        ],
    );
    let villages = VillageResolver::new(vec![
        VillagePlace {
            code: "v1".into(),
            name: "东村".into(),
            township_name: "幸福街道".into(),
        },
        VillagePlace {
            code: "v2".into(),
            name: "西村村民委员会".into(),
            township_name: "幸福街道".into(),
        },
        VillagePlace {
            code: "v3".into(),
            name: "东村".into(),
            township_name: "和平镇".into(),
        },
    ]);
    World {
        roster,
        villages,
        kind: ListKind {
            code: "disability_care".into(),
            name: "重度残疾人护理补贴".into(),
            meaning: "核查儿童是否事实无人抚养".into(),
            due_days: 15,
            county: None,
        },
        a,
        b,
        c,
        d,
    }
}

fn run(w: &World, rows: &[ListRow], previous: Option<&HashSet<Uuid>>) -> MatchReport {
    match_list(
        rows,
        &MatchContext {
            kind: &w.kind,
            month: "2026-05",
            area: "370602",
            roster: &w.roster,
            villages: &w.villages,
            previous,
        },
    )
}

fn the_list() -> Vec<ListRow> {
    let mut rows = Vec::new();
    // 2: a minor not on the roster, village by name (西村 = 西村村民委员会).
    let mut r = row(2, "新童", &id("20180505", 82));
    r.village = Some("西村".into());
    rows.push(r);
    // 3: a minor on the roster (甲童).
    rows.push(row(3, "甲童", &id("20140302", 11)));
    // 4: 丙童's mother, grade 1.
    let mut r = row(4, "丙母", &id("19850101", 62));
    r.disability_grade = Some(1);
    rows.push(r);
    // 5: a grandmother whose household head is 乙童's father.
    let mut r = row(5, "乙祖母", &id("19550101", 92));
    r.household = Some(format!("id:{}", id("19800101", 71)));
    r.relationship = Some("母亲".into());
    r.disability_grade = Some(2);
    rows.push(r);
    // 6: line 2 again.
    let mut r = row(6, "新童", &id("20180505", 82));
    r.village = Some("西村".into());
    rows.push(r);
    // 7: a minor in 东村 — two townships have one: ambiguous, to the queue.
    let mut r = row(7, "东童", &id("20190101", 13));
    r.village = Some("东村".into());
    rows.push(r);
    // 8: a minor whose address names the township and the village.
    let mut r = row(8, "址童", &id("20190202", 23));
    r.address = Some("芝罘区幸福街道东村5号".into());
    rows.push(r);
    // 9: an adult who matches nothing: not kept.
    rows.push(row(9, "路人", &id("19700101", 33)));
    // 10: a minor of the other county's roster.
    rows.push(row(10, "外县童", &id("20120101", 51)));
    rows
}

#[test]
fn a_list_becomes_exactly_the_expected_findings_in_the_expected_villages() {
    let w = world();
    let r = run(&w, &the_list(), None);
    let got: Vec<(FindingKind, Option<&str>, Option<Uuid>, Option<usize>)> = r
        .findings
        .iter()
        .map(|f| (f.kind(), f.village.as_deref(), f.child_id, f.line))
        .collect();
    assert_eq!(
        got,
        vec![
            (FindingKind::UnlistedMinor, Some("v2"), None, Some(2)),
            (FindingKind::UnlistedMinor, None, None, Some(7)),
            (FindingKind::UnlistedMinor, Some("v1"), None, Some(8)),
            (FindingKind::GuardianListed, Some("v1"), Some(w.c), Some(4)),
            (FindingKind::HouseholdListed, Some("v2"), Some(w.b), Some(5)),
        ]
    );
    assert_eq!(r.rows_read, 9);
    assert_eq!(
        r.minors, 5,
        "新童, 甲童, 东童, 址童, 外县童 (duplicate counted once)"
    );
    assert_eq!(r.on_roster, 3, "甲童, 外县童, 丙母");
    let dup: Vec<usize> = r.duplicates.iter().map(|p| p.line).collect();
    assert_eq!(dup, vec![6]);
    let no_village: Vec<usize> = r.no_village.iter().map(|p| p.line).collect();
    assert_eq!(no_village, vec![7]);
    assert!(
        r.no_village[0].zh.contains("重名"),
        "{}",
        r.no_village[0].zh
    );
    assert!(
        r.no_village[0].zh.contains("和平镇东村"),
        "{}",
        r.no_village[0].zh
    );

    // What the director reads.
    let guardian = &r.findings[3].finding;
    let adult = guardian.adult.as_ref().unwrap();
    assert_eq!(
        (
            adult.name.as_str(),
            adult.relationship.as_deref(),
            adult.disability_grade
        ),
        ("丙母", Some("母亲"), Some(1))
    );
    assert_eq!(
        adult.id_number_masked,
        domain::mask_id_number(&id("19850101", 62))
    );
    assert_eq!(guardian.guardian_id, Some(Uuid::from_u128(0x100)));
    assert!(
        r.findings[3].title.contains("丙童的母亲丙母") && r.findings[3].title.contains("残疾1级"),
        "{}",
        r.findings[3].title
    );
    let minor = r.findings[0].finding.person.as_ref().unwrap();
    assert_eq!(
        (minor.name.as_str(), minor.birth_date.map(|d| d.to_string())),
        ("新童", Some("2018-05-05".into()))
    );
    assert_eq!(r.findings[0].task_kind, domain::TaskKind::CheckListedMinor);
    assert_eq!(r.findings[3].task_kind, domain::TaskKind::Other);
    // Nobody who matched nothing is kept.
    let text = format!("{:?}", r.findings);
    assert!(!text.contains("路人"));
    // The families on the list: 甲童 (listed), 丙童 (mother), 乙童 (household).
    let listed: HashSet<Uuid> = [w.a, w.b, w.c].into();
    assert_eq!(r.listed_children, listed);
}

#[test]
fn the_same_list_gives_the_same_keys_and_ids_do_not_carry_the_month() {
    let w = world();
    let first = run(&w, &the_list(), None);
    let again = run(&w, &the_list(), None);
    let keys = |r: &MatchReport| r.findings.iter().map(|f| f.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&first), keys(&again));
    assert!(
        keys(&first).iter().all(|k| !k.contains("2026-05")),
        "next month's list derives the same ids"
    );
    let key = [7u8; 32];
    assert_eq!(
        super::derived_id(&key, &first.findings[0].key),
        super::derived_id(&key, &again.findings[0].key)
    );
    assert_ne!(
        super::derived_id(&key, &first.findings[0].key),
        super::derived_id(&[8u8; 32], &first.findings[0].key)
    );
}

#[test]
fn a_family_that_joined_or_left_the_list_since_last_month_is_reviewed() {
    let w = world();
    // Last month: 甲童's and 丁童's families. Now 丁童's is gone, 乙童's and 丙童's are new
    // (they already have findings of their own, so no second one), 甲童 stays.
    let previous: HashSet<Uuid> = [w.a, w.d].into();
    let r = run(&w, &the_list(), Some(&previous));
    let reviews: Vec<(FindingKind, Option<Uuid>, Option<&str>)> = r
        .findings
        .iter()
        .filter(|f| matches!(f.kind(), FindingKind::JoinedList | FindingKind::LeftList))
        .map(|f| (f.kind(), f.child_id, f.village.as_deref()))
        .collect();
    assert_eq!(
        reviews,
        vec![(FindingKind::LeftList, Some(w.d), Some("v2"))]
    );
    let left = r
        .findings
        .iter()
        .find(|f| f.kind() == FindingKind::LeftList)
        .unwrap();
    assert!(
        left.key.ends_with("2026-05"),
        "a review belongs to its month"
    );
    assert!(
        left.title.contains("丁童家庭已不在重度残疾人护理补贴"),
        "{}",
        left.title
    );

    // A family newly on the list without another finding: joined.
    let previous: HashSet<Uuid> = [w.d].into();
    let r = run(&w, &the_list()[1..2], Some(&previous));
    let kinds: Vec<(FindingKind, Option<Uuid>)> =
        r.findings.iter().map(|f| (f.kind(), f.child_id)).collect();
    assert_eq!(
        kinds,
        vec![
            (FindingKind::JoinedList, Some(w.a)),
            (FindingKind::LeftList, Some(w.d))
        ]
    );
}

#[test]
fn a_listed_child_s_parents_on_the_same_list_make_no_extra_task() {
    // 低保 lists every member: the child is listed with its mother.
    let w = world();
    let mut rows = vec![
        row(2, "丙童", &id("20160101", 31)),
        row(3, "丙母", &id("19850101", 62)),
    ];
    rows[1].disability_grade = Some(1);
    let r = run(&w, &rows, None);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert!(r.listed_children.contains(&w.c));
}

#[test]
fn villages_are_found_by_code_name_and_address_and_ambiguity_is_said() {
    let w = world();
    let v = &w.villages;
    assert_eq!(
        v.resolve(Some("v2"), None, None),
        Resolution::Found("v2".into())
    );
    assert_eq!(
        v.resolve(Some("西村委会"), None, None),
        Resolution::Found("v2".into())
    );
    assert_eq!(
        v.resolve(Some("西 村"), None, None),
        Resolution::Found("v2".into())
    );
    assert_eq!(
        v.resolve(Some("东村"), Some("和平镇"), None),
        Resolution::Found("v3".into())
    );
    assert!(
        matches!(v.resolve(Some("东村"), None, None), Resolution::Ambiguous(n) if n.len() == 2)
    );
    assert_eq!(
        v.resolve(None, None, Some("幸福街道西村村民委员会3组")),
        Resolution::Found("v2".into())
    );
    assert_eq!(
        v.resolve(None, None, Some("和平镇东村12号")),
        Resolution::Found("v3".into())
    );
    assert_eq!(
        v.resolve(Some("南村"), None, Some("北京市")),
        Resolution::NotFound
    );
    assert_eq!(v.resolve(None, None, None), Resolution::NotFound);
}
