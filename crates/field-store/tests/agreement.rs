//! A care agreement from draft to signed version: the signed text is frozen with its
//! SHA-256, every signature is bound to that hash, and nothing signed can be edited.

use field_store::fieldwork::SignatureInput;
use field_store::Store;
use serde_json::{json, Map, Value};

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn terms(start: &str, end: &str) -> Value {
    json!({
        "principal": {"name": "王建国", "relation": "father", "id_number": "370611198803150515",
                      "phone": "13912345678", "work_location": "上海市浦东新区某建筑工地"},
        "caregiver": {"name": "王德福", "id_number": "370602198001010012", "relationship": "叔叔",
                      "health": "健康", "address": "芝罘区幸福街道某村12号", "phone": "13812345678"},
        "witness": {"village_committee": "某村村民委员会", "child_director": "刘芳"},
        "child": {"name": "王小明", "birth_date": "2015-01-01", "school": "幸福小学五年级", "special_needs": ""},
        "reason": "父母外出务工",
        "period_start": start, "period_end": end,
        "renewal": "new_agreement",
        "emergency_contacts": [{"name": "李秀英", "relationship": "母亲", "phone": "13712345678"}],
        "medical_authority": true, "weekly_contact_promise": true, "caregiver_declaration": true,
        "child_view": "愿意和叔叔一起生活",
    })
}

fn signature_png() -> Vec<u8> {
    let img = image::GrayImage::from_fn(300, 100, |x, y| {
        image::Luma([if (x + y) % 17 == 0 { 0 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn signing_freezes_the_text_binds_signatures_and_refuses_later_edits() {
    let mut s = Store::open_in_memory().unwrap();
    let today = s.today();
    let child = s
        .add_child(fields(json!({
            "name": "王小明", "sex": "male", "birth_date": "2015-01-01", "village_code": "v1",
            "categories": ["left_behind"], "risk_colour": "green", "household_registered": true,
            "status": "active", "added_on": today.to_string(),
        })))
        .unwrap();
    let start = today.to_string();
    let end = (today + chrono::Duration::days(364)).to_string();
    let draft = s
        .save_agreement_draft(child, None, terms(&start, &end))
        .unwrap();

    // Without the caregiver's signature nothing is signed.
    let only_principal = [SignatureInput {
        role: "principal".into(),
        name: "王建国".into(),
        image: signature_png(),
        strokes: None,
    }];
    assert_eq!(
        s.sign_agreement(draft, &only_principal).unwrap_err().code(),
        "signature_missing"
    );
    assert!(s.child_file(child).unwrap().agreement_versions.is_empty());

    let sigs = [
        SignatureInput {
            role: "principal".into(),
            name: "王建国".into(),
            image: signature_png(),
            strokes: None,
        },
        SignatureInput {
            role: "caregiver".into(),
            name: "王德福".into(),
            image: signature_png(),
            strokes: None,
        },
    ];
    let signed = s.sign_agreement(draft, &sigs).unwrap();
    assert_eq!(signed.version, 1);
    let file = s.child_file(child).unwrap();
    let v = &file.agreement_versions[0];
    let text = v.fields["canonical_text"].as_str().unwrap();
    assert!(
        text.contains("王德福") && text.contains("第二十二条"),
        "the zh-CN agreement text is frozen"
    );
    assert_eq!(domain::agreement::text_sha256(text), signed.text_sha256);
    assert_eq!(file.signatures.len(), 2);
    for sig in &file.signatures {
        assert_eq!(
            sig.fields["text_sha256"],
            json!(signed.text_sha256),
            "each signature is bound to the hash"
        );
        let img = sig.fields["image_sha256"].as_str().unwrap();
        assert!(
            s.has_blob(img).unwrap(),
            "the signature image is stored with the record"
        );
    }
    assert_eq!(file.agreement_drafts[0].fields["status"], "signed");

    // The signed version is immutable, and so is the signed draft.
    let e = s
        .edit_record(
            "agreement_version",
            signed.version_id,
            fields(json!({"canonical_text": "改过的文本"})),
        )
        .unwrap_err();
    assert_eq!(e.code(), "write_once");
    let e = s
        .save_agreement_draft(child, Some(draft), terms(&start, &start))
        .unwrap_err();
    assert_eq!(e.code(), "agreement_signed");
    assert!(e.zh().contains("协议已签署"));
    assert_eq!(
        s.sign_agreement(draft, &sigs).unwrap_err().code(),
        "agreement_signed"
    );

    // A signature that names the version but carries another hash is refused.
    let mut forged = file.signatures[0].fields.clone();
    forged.insert("text_sha256".into(), json!("0".repeat(64)));
    let e = s.add_record("signature", forged).unwrap_err();
    assert_eq!(e.code(), "signature_not_bound");
}
