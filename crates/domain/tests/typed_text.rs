//! Text as people really type it on a phone, and text nobody should type at all: every
//! parser and validator of the domain takes it without panicking (a panic on the phone
//! loses the director's work), what people really type is normalised before it is
//! checked, and a refusal says exactly what is wrong.

use chrono::NaiveDate;
use domain::normalize::normalize_fields;
use domain::schema::TABLES;
use domain::{
    mask_id_number, name_initials, name_matches, normalize_id_number, parse_id_number,
    validate_row, AgreementTerms, Checklist, Fields,
};
use proptest::prelude::*;
use serde_json::{json, Value};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 5, 20).unwrap()
}

fn fields(v: Value) -> Fields {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("an object"),
    }
}

/// A child's file as a form would send it (valid), to vary one field at a time.
fn child() -> Fields {
    fields(json!({
        "name": "王小明", "sex": "male", "birth_date": "2015-01-01",
        "id_number": "370602201501011235", "household_registered": true,
        "village_code": "370602001001", "categories": ["left_behind"],
        "risk_colour": "green", "status": "active", "added_on": "2026-03-02",
    }))
}

fn check_child(mut f: Fields) -> Result<Fields, domain::DomainError> {
    normalize_fields("child", &mut f);
    validate_row("child", &f, today()).map(|()| f)
}

#[test]
fn an_id_number_typed_with_full_width_digits_spaces_and_a_small_x_is_accepted() {
    assert_eq!(
        normalize_id_number(" １１０１０５　１９４９１２３１００２ｘ "),
        "11010519491231002X"
    );
    let mut f = child();
    f.insert(
        "id_number".into(),
        json!("３７０６０２ ２０１５０１０１ １２３５"),
    );
    let stored = check_child(f).unwrap();
    assert_eq!(stored["id_number"], "370602201501011235");
}

#[test]
fn an_id_number_with_a_chinese_character_among_its_digits_names_the_character() {
    // 18 characters, one of them a Chinese numeral: this used to panic (a byte-index cut).
    let e = parse_id_number("3706022015010112二5", today()).unwrap_err();
    assert_eq!(e.code, "invalid_id_number");
    assert!(e.zh.contains("第17位") && e.zh.contains("“二”"), "{}", e.zh);
    let e = parse_id_number("37060220150101二235", today()).unwrap_err();
    assert!(e.zh.contains("第15位") && e.zh.contains("“二”"), "{}", e.zh);
    let e = parse_id_number("37060220150101123中", today()).unwrap_err();
    assert!(
        e.zh.contains("最后一位") && e.zh.contains("“中”"),
        "{}",
        e.zh
    );
    // Through the write path's normaliser too.
    let mut f = child();
    f.insert(
        "id_number".into(),
        json!("３７０６０２２０１５０１０１二２３５"),
    );
    assert_eq!(check_child(f).unwrap_err().code, "invalid_id_number");
}

#[test]
fn a_birth_date_before_1900_is_not_called_a_date_that_does_not_exist() {
    // In an ID number (check digit computed for the date).
    let first17 = "37060218991231123";
    let id = format!(
        "{first17}{}",
        domain::id_number::check_digit(first17).unwrap()
    );
    let e = parse_id_number(&id, today()).unwrap_err();
    assert!(e.zh.contains("1900"), "{}", e.zh);
    assert!(!e.zh.contains("不存在"), "{}", e.zh);
    // 2018 had no 29 February: that one does not exist.
    let first17 = "37061320180229003";
    let id = format!(
        "{first17}{}",
        domain::id_number::check_digit(first17).unwrap()
    );
    let e = parse_id_number(&id, today()).unwrap_err();
    assert!(e.zh.contains("不存在"), "{}", e.zh);
}

#[test]
fn a_date_that_does_not_exist_or_is_before_1900_is_not_called_the_wrong_format() {
    let with = |field: &str, v: &str| {
        let mut f = child();
        f.remove("id_number");
        f.insert(field.into(), json!(v));
        check_child(f)
    };
    let e = with("birth_date", "2018-02-30").unwrap_err();
    assert!(e.zh.contains("不存在"), "{}", e.zh);
    assert!(!e.zh.contains("格式"), "{}", e.zh);
    assert!(e.en.contains("does not exist"), "{}", e.en);
    let e = with("birth_date", "2018-13-01").unwrap_err();
    assert!(
        e.zh.contains("不存在") && !e.zh.contains("格式"),
        "{}",
        e.zh
    );
    let e = with("birth_date", "1899-12-31").unwrap_err();
    assert!(e.zh.contains("1900") && !e.zh.contains("不存在") && !e.zh.contains("格式"));
    let e = with("birth_date", "yesterday").unwrap_err();
    assert!(e.zh.contains("格式"), "{}", e.zh);
    // What people write for a date is read as the date.
    for typed in [
        "2015/1/1",
        " 2015-01-01 ",
        "２０１５－０１－０１",
        "2015.1.1",
        "2015年1月1日",
    ] {
        let f = with("birth_date", typed).unwrap_or_else(|e| panic!("{typed}: {}", e.zh));
        assert_eq!(f["birth_date"], "2015-01-01", "{typed}");
    }
}

#[test]
fn a_visit_time_that_does_not_exist_is_not_called_the_wrong_format() {
    let visit = |at: &str| {
        let mut f = fields(json!({
            "child_id": "01890a5d-ac96-774b-bcce-b302099a8057", "visited_at": at,
            "mode": "home", "visitor": "刘主任", "risk_colour": "green", "emergency": false,
            "actions": [], "checklist": {
                "living": {"status": "normal"}, "guardianship": {"status": "normal"},
                "education": {"status": "normal"}, "health": {"status": "normal"},
                "safety": {"status": "normal"}, "mood": {"status": "normal"}},
        }));
        normalize_fields("visit", &mut f);
        validate_row("visit", &f, today())
    };
    assert_eq!(
        visit("２０２６－０５－１８Ｔ１５：２０：００＋０８：００"),
        Ok(())
    );
    let e = visit("2026-02-30T10:00:00+08:00").unwrap_err();
    assert!(
        e.zh.contains("不存在") && !e.zh.contains("格式"),
        "{}",
        e.zh
    );
    let e = visit("2026-05-18T25:00:00+08:00").unwrap_err();
    assert!(e.zh.contains("时间") && e.zh.contains("不存在"), "{}", e.zh);
    let e = visit("tomorrow").unwrap_err();
    assert!(e.zh.contains("格式"), "{}", e.zh);
}

#[test]
fn codes_and_phones_are_read_as_typed() {
    let mut f = child();
    f.insert("sex".into(), json!(" Male "));
    f.insert("categories".into(), json!(["Left_Behind"]));
    f.insert("village_code".into(), json!("３７０６０２００１００１ "));
    let f = check_child(f).unwrap();
    assert_eq!(
        (f["sex"].as_str(), f["categories"][0].as_str()),
        (Some("male"), Some("left_behind"))
    );
    assert_eq!(f["village_code"], "370602001001");

    let mut g = fields(json!({
        "child_id": "01890a5d-ac96-774b-bcce-b302099a8057", "role": "grandparent",
        "name": " 张桂英 ", "phone": "１３８ １２３４ ５６７８",
    }));
    normalize_fields("guardian", &mut g);
    assert_eq!(validate_row("guardian", &g, today()), Ok(()));
    assert_eq!(g["name"], "张桂英");
}

/// Characters people type, and some nobody should: digits in both widths, Chinese
/// numerals and names, x and X, spaces of every width, combining and zero-width marks,
/// emoji, control characters, and anything else.
fn typed_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range('0', '9'),
        2 => prop::char::range('０', '９'),
        1 => prop::sample::select(vec!['x', 'X', 'ｘ', 'Ｘ', '-', '/', '.', ':', 'T', '+', '年', '月', '日']),
        1 => prop::sample::select(vec![' ', '　', '\u{a0}', '\t', '\n', '\u{200b}', '\u{feff}', '\u{301}', '\u{0}']),
        1 => prop::sample::select(vec!['二', '〇', '王', '小', '明', '·', '😀', 'é', 'ß', 'İ']),
        1 => any::<char>(),
    ]
}

fn typed_string(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(typed_char(), 0..max).prop_map(|v| v.into_iter().collect())
}

/// Any JSON value a form, a script or an attacker could put in a field.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        typed_string(24).prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![typed_string(10), "[a-z_]{1,12}".prop_map(String::from)],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A row of `table` with every schema field present, each an arbitrary value.
fn any_row(table: &'static sync_core::TableSpec) -> impl Strategy<Value = Fields> {
    prop::collection::vec(any_value(), table.fields.len()).prop_map(move |values| {
        table
            .fields
            .iter()
            .zip(values)
            .map(|(f, v)| (f.name.to_string(), v))
            .collect()
    })
}

/// A valid row of each table, to vary a field or two at a time (so that the rules
/// behind the schema check are reached too).
fn valid_rows() -> Vec<(&'static str, Fields)> {
    let child_id = "01890a5d-ac96-774b-bcce-b302099a8057";
    let hash = "ab".repeat(32);
    let checklist = json!({
        "living": {"status": "normal"}, "guardianship": {"status": "normal"},
        "education": {"status": "normal"}, "health": {"status": "abnormal", "note": "感冒"},
        "safety": {"status": "normal"}, "mood": {"status": "watch"}});
    vec![
        ("child", child()),
        (
            "guardian",
            fields(
                json!({"child_id": child_id, "role": "entrusted_caregiver", "name": "张桂英",
            "id_number": "370602198001010012", "relationship": "外祖母", "phone": "13812345678"}),
            ),
        ),
        (
            "visit",
            fields(
                json!({"child_id": child_id, "visited_at": "2026-05-18T15:20:00+08:00",
            "mode": "home", "visitor": "刘主任", "checklist": checklist, "risk_colour": "red",
            "emergency": true, "actions": ["mandatory_report"], "problems": "伤痕",
            "next_due_on": "2026-05-25", "gps": {"lat": 37.5, "lon": 121.4, "accuracy_m": 12.0}}),
            ),
        ),
        (
            "photo",
            fields(
                json!({"child_id": child_id, "blob_sha256": hash, "thumb_sha256": hash,
            "width": 1600, "height": 1200, "bytes": 300000, "taken_at": "2026-05-18T15:21:00+08:00"}),
            ),
        ),
        (
            "referral",
            fields(
                json!({"child_id": child_id, "kind": "out_of_school", "receiving_body": "教育局",
            "referred_on": "2026-05-10", "feedback_due_on": "2026-05-25", "closed_on": "2026-05-19",
            "outcome": "已复学"}),
            ),
        ),
        (
            "task",
            fields(
                json!({"kind": "first_visit", "village_code": "v1", "child_id": child_id,
            "title": "首次走访", "due_on": "2026-05-31"}),
            ),
        ),
        (
            "agreement_draft",
            fields(json!({"child_id": child_id, "status": "draft", "terms": {
            "principal": {"name": "王建国", "id_number": "370611198803150515", "phone": "13912345678"},
            "caregiver": {"id_number": "370602198001010012"}, "period_start": "2026-06-01"}})),
        ),
        (
            "signature",
            fields(
                json!({"child_id": child_id, "agreement_version_id": child_id,
            "signer_role": "principal", "signer_name": "王建国", "text_sha256": hash,
            "image_sha256": hash, "signed_at": "2026-05-18T15:21:00+08:00"}),
            ),
        ),
    ]
}

#[test]
fn the_rows_the_fuzzing_starts_from_are_valid() {
    for (table, row) in valid_rows() {
        assert_eq!(validate_row(table, &row, today()), Ok(()), "{table}");
    }
}

fn nearly_valid_row() -> impl Strategy<Value = (&'static str, Fields)> {
    (
        prop::sample::select(valid_rows()),
        prop::collection::vec((any::<prop::sample::Index>(), any_value()), 1..3),
        prop_oneof![typed_string(20).prop_map(Value::String), any_value()],
    )
        .prop_map(|((table, mut row), changes, text)| {
            let spec = domain::schema::table(table).expect("a synced table");
            for (i, v) in changes {
                let f = &spec.fields[i.index(spec.fields.len())];
                row.insert(f.name.to_string(), v);
            }
            // Text fields get text that looks typed half the time.
            let texts: Vec<_> = spec
                .fields
                .iter()
                .filter(|f| matches!(f.ty, sync_core::schema::ValueType::Text { .. }))
                .collect();
            if let Some(f) = texts.first() {
                row.insert(f.name.to_string(), text);
            }
            (table, row)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn id_numbers_of_any_text_are_parsed_masked_and_normalised_without_panicking(
        s in prop_oneof![typed_string(22), any::<String>()]
    ) {
        let _ = parse_id_number(&s, today());
        let n = normalize_id_number(&s);
        let _ = parse_id_number(&n, today());
        let masked = mask_id_number(&s);
        prop_assert_eq!(masked.chars().count(), s.chars().count());
        prop_assert_eq!(normalize_id_number(&n), n.clone(), "normalising twice changes nothing");
        prop_assert!(!n.chars().any(char::is_whitespace));
    }

    #[test]
    fn eighteen_typed_characters_never_panic_the_id_number_parser(
        v in prop::collection::vec(typed_char(), 18)
    ) {
        let s: String = v.into_iter().collect();
        if let Err(e) = parse_id_number(&s, today()) {
            prop_assert_eq!(e.code, "invalid_id_number");
            prop_assert!(!e.zh.is_empty() && !e.en.is_empty());
        }
    }

    #[test]
    fn every_table_takes_any_row_without_panicking(
        (table, row) in prop::sample::select(TABLES.to_vec())
            .prop_flat_map(|t| (Just(t.name), any_row(Box::leak(Box::new(t)))))
    ) {
        let mut normalised = row.clone();
        normalize_fields(table, &mut normalised);
        for f in [&row, &normalised] {
            if let Err(e) = validate_row(table, f, today()) {
                prop_assert!(!e.zh.is_empty() && !e.en.is_empty(), "{:?}", e);
            }
        }
        let mut twice = normalised.clone();
        normalize_fields(table, &mut twice);
        prop_assert_eq!(twice, normalised, "normalising twice changes nothing");
    }

    #[test]
    fn a_row_with_an_odd_field_or_two_is_refused_with_a_sentence_or_accepted(
        (table, mut row) in nearly_valid_row()
    ) {
        normalize_fields(table, &mut row);
        if let Err(e) = validate_row(table, &row, today()) {
            prop_assert!(!e.zh.is_empty() && !e.en.is_empty(), "{:?}", e);
        }
    }

    #[test]
    fn checklists_of_any_shape_are_read_without_panicking(v in any_value()) {
        if let Ok(c) = Checklist::from_json(&v) {
            let _ = c.validate();
        }
    }

    #[test]
    fn agreement_terms_of_any_text_are_checked_and_rendered_without_panicking(
        texts in prop::collection::vec(typed_string(30), 18),
        dates in prop::collection::vec(prop::option::of(-200_000i64..200_000), 3),
    ) {
        let mut t = AgreementTerms::default();
        let day = |n: Option<i64>| n.and_then(|n| today().checked_add_signed(chrono::Duration::days(n)));
        t.principal.name = texts[0].clone();
        t.principal.id_number = texts[1].clone();
        t.principal.phone = texts[2].clone();
        t.principal.work_location = texts[3].clone();
        t.caregiver.name = texts[4].clone();
        t.caregiver.id_number = texts[5].clone();
        t.caregiver.relationship = texts[6].clone();
        t.caregiver.health = texts[7].clone();
        t.caregiver.address = texts[8].clone();
        t.caregiver.phone = texts[9].clone();
        t.witness.village_committee = texts[10].clone();
        t.child.name = texts[11].clone();
        t.child.birth_date = day(dates[0]);
        t.reason = texts[12].clone();
        t.period_start = day(dates[1]);
        t.period_end = day(dates[2]);
        t.emergency_contacts.push(domain::EmergencyContact {
            name: texts[13].clone(), relationship: texts[14].clone(), phone: texts[15].clone(),
        });
        t.child_view = texts[16].clone();
        t.principal.relation = Some(domain::PrincipalRelation::Mother);
        t.weekly_contact_promise = true;
        t.caregiver_declaration = true;
        let _ = t.validate_entered(today());
        let _ = t.validate_for_signing(today());
        let text = domain::canonical_text(&t, 1);
        prop_assert!(text.ends_with('\n'));
        let mut draft = fields(json!({
            "child_id": "01890a5d-ac96-774b-bcce-b302099a8057", "status": "draft",
            "terms": serde_json::to_value(&t).unwrap(),
        }));
        normalize_fields("agreement_draft", &mut draft);
        let _ = validate_row("agreement_draft", &draft, today());
    }

    #[test]
    fn names_and_searches_of_any_text_never_panic(
        name in prop_oneof![typed_string(12), any::<String>()],
        query in prop_oneof![typed_string(8), any::<String>()],
    ) {
        let initials = name_initials(&name);
        let _ = name_matches(&name, &initials, &query);
        let key = domain::pinyin::search_key(&name);
        let _ = domain::pinyin::key_matches(&key, &domain::pinyin::search_query(&query));
    }
}
