//! A real signed agreement to print: terms like those of `domain`'s own tests, sealed
//! with `AgreementVersion::seal`, three signatures drawn as small PNGs. Shared by the
//! tests, the benchmark and the sample example (`#[path]`-included).

#![allow(dead_code)]

use agreement_pdf::{
    find_system_font, AgreementFont, Party, PrintableAgreement, SignatureImage, SignerRole,
};
use chrono::NaiveDate;
use domain::{
    mask_id_number, AgreementChild, AgreementTerms, AgreementVersion, Caregiver, EmergencyContact,
    Principal, PrincipalRelation, Renewal, Witness,
};
use image::{Rgba, RgbaImage};
use uuid::Uuid;

pub fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// The day the agreement is signed.
pub fn today() -> NaiveDate {
    d("2026-05-20")
}

/// The font every test prints with: the system's CJK font. A machine without one fails
/// here with what to install, never skips.
pub fn font() -> AgreementFont {
    let path = find_system_font().expect(
        "no CJK font on this machine: run scripts/install-deps.sh --test (apt-get install fonts-noto-cjk)",
    );
    AgreementFont::from_path(&path).unwrap()
}

pub fn terms() -> AgreementTerms {
    AgreementTerms {
        principal: Principal {
            name: "王建国".into(),
            relation: Some(PrincipalRelation::Father),
            id_number: "370611198803150515".into(),
            phone: "13912345678".into(),
            work_location: "上海市浦东新区某建筑工地".into(),
        },
        caregiver: Caregiver {
            name: "王德福".into(),
            id_number: "370602198001010012".into(),
            relationship: "叔叔".into(),
            health: "健康".into(),
            address: "芝罘区幸福街道某村12号".into(),
            phone: "13812345678".into(),
        },
        witness: Witness {
            village_committee: "某村村民委员会".into(),
            child_director: "刘芳".into(),
        },
        child: AgreementChild {
            name: "王小明".into(),
            birth_date: Some(d("2015-01-01")),
            school: "幸福小学五年级".into(),
            special_needs: "".into(),
        },
        reason: "父母外出务工".into(),
        period_start: Some(d("2026-06-01")),
        period_end: Some(d("2027-05-31")),
        renewal: Renewal::NewAgreement,
        emergency_contacts: vec![EmergencyContact {
            name: "李秀英".into(),
            relationship: "母亲".into(),
            phone: "13712345678".into(),
        }],
        medical_authority: true,
        weekly_contact_promise: true,
        caregiver_declaration: true,
        child_view: "愿意和叔叔一起生活".into(),
    }
}

/// A handwriting-like signature: a few strokes of a wavy pen line, dark blue on a
/// transparent pad of `w`×`h`, different for each `seed`.
pub fn signature_png(seed: u32, w: u32, h: u32) -> Vec<u8> {
    let mut img = RgbaImage::new(w, h);
    let ink = Rgba([20, 30, 90, 255]);
    let (fw, fh) = (w as f32, h as f32);
    let strokes = 3 + seed % 3;
    for s in 0..strokes {
        let x0 = fw * (0.15 + 0.22 * s as f32);
        let phase = (seed.wrapping_mul(7).wrapping_add(s * 13) % 1000) as f32;
        for t in 0..400 {
            let t = t as f32 / 400.0;
            let x = x0 + t * fw * 0.2;
            let y = fh * (0.5 + 0.25 * ((t * 9.0 + phase).sin()) * (1.0 - t * 0.5));
            for dx in -2i32..=2 {
                for dy in -2i32..=2 {
                    let (px, py) = (x as i32 + dx, y as i32 + dy);
                    if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                        img.put_pixel(px as u32, py as u32, ink);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// The sealed version of [`terms`].
pub fn sealed() -> AgreementVersion {
    AgreementVersion::seal(
        Uuid::now_v7(),
        Uuid::now_v7(),
        1,
        &terms(),
        "2026-05-20T10:00:00+08:00",
        today(),
    )
    .unwrap()
}

/// The printable copy of [`sealed`], as the field app would fill it in.
pub fn agreement() -> PrintableAgreement {
    let v = sealed();
    let t = terms();
    PrintableAgreement {
        canonical_text: v.canonical_text.clone(),
        text_sha256: v.text_sha256.clone(),
        version: v.version,
        child_name: t.child.name.clone(),
        signed_on: v.signed_at.clone(),
        parties: vec![
            Party {
                role: SignerRole::Principal,
                name: t.principal.name.clone(),
                relation: "父亲".into(),
                id_number_masked: mask_id_number(&t.principal.id_number),
            },
            Party {
                role: SignerRole::Caregiver,
                name: t.caregiver.name.clone(),
                relation: t.caregiver.relationship.clone(),
                id_number_masked: mask_id_number(&t.caregiver.id_number),
            },
            Party {
                role: SignerRole::Witness,
                name: t.witness.child_director.clone(),
                relation: format!("儿童主任，{}", t.witness.village_committee),
                id_number_masked: String::new(),
            },
        ],
        signatures: vec![
            SignatureImage {
                role: SignerRole::Principal,
                signer_name: "王建国".into(),
                signed_at: "2026-05-20T10:05:00+08:00".into(),
                png: signature_png(1, 600, 240),
            },
            SignatureImage {
                role: SignerRole::Caregiver,
                signer_name: "王德福".into(),
                signed_at: "2026-05-20T10:07:30+08:00".into(),
                png: signature_png(2, 600, 240),
            },
            SignatureImage {
                role: SignerRole::Witness,
                signer_name: "刘芳".into(),
                signed_at: "2026-05-20T10:09:10+08:00".into(),
                png: signature_png(3, 600, 240),
            },
        ],
    }
}
