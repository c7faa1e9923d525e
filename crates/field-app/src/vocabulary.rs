//! Every code list a form offers, with its Chinese and English names, straight from
//! `domain` — the UI never retypes a code list.

use crate::types::{Term, Vocabulary};
use domain::labels::{code_label_en, code_label_zh};

fn terms<T: Copy>(all: &[T], code: impl Fn(T) -> &'static str) -> Vec<Term> {
    all.iter()
        .map(|c| {
            let code = code(*c);
            Term {
                code: code.to_string(),
                zh: code_label_zh(code).to_string(),
                en: code_label_en(code),
            }
        })
        .collect()
}

/// The vocabulary of the forms.
pub fn vocabulary() -> Vocabulary {
    use domain::*;
    Vocabulary {
        categories: terms(Category::ALL, Category::code),
        sexes: terms(Sex::ALL, Sex::code),
        risk_colours: terms(RiskColour::ALL, RiskColour::code),
        guardianship_ratings: terms(GuardianshipRating::ALL, GuardianshipRating::code),
        exit_reasons: terms(ExitReason::ALL, ExitReason::code),
        assistance: terms(Assistance::ALL, Assistance::code),
        guardian_roles: terms(GuardianRole::ALL, GuardianRole::code),
        whereabouts: terms(Whereabouts::ALL, Whereabouts::code),
        visit_modes: terms(VisitMode::ALL, VisitMode::code),
        visit_actions: terms(VisitAction::ALL, VisitAction::code),
        checklist_areas: terms(ChecklistArea::ALL, ChecklistArea::code),
        item_statuses: terms(ItemStatus::ALL, ItemStatus::code),
        signer_roles: terms(SignerRole::ALL, SignerRole::code),
        principal_relations: terms(PrincipalRelation::ALL, PrincipalRelation::code),
        renewals: terms(Renewal::ALL, Renewal::code),
        referral_kinds: terms(ReferralKind::ALL, ReferralKind::code),
        health_conditions: terms(HealthCondition::ALL, HealthCondition::code),
        disability_types: terms(DisabilityType::ALL, DisabilityType::code),
        school_stages: terms(SchoolStage::ALL, SchoolStage::code),
        enrolments: terms(Enrolment::ALL, Enrolment::code),
        task_kinds: terms(TaskKind::ALL, TaskKind::code),
        task_outcomes: terms(TaskOutcome::ALL, TaskOutcome::code),
        finding_kinds: terms(FindingKind::ALL, FindingKind::code),
        confirmation_kinds: terms(ConfirmationKind::ALL, ConfirmationKind::code),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_term_has_a_chinese_and_an_english_name() {
        let v = serde_json::to_value(super::vocabulary()).unwrap();
        for (list, terms) in v.as_object().unwrap() {
            let terms = terms.as_array().unwrap();
            assert!(!terms.is_empty(), "{list}");
            for t in terms {
                let (code, zh, en) = (&t["code"], &t["zh"], &t["en"]);
                assert_ne!(zh, code, "{list}: {code} has no Chinese name");
                assert!(
                    zh.as_str().unwrap().chars().any(|c| c > '\u{2e80}'),
                    "{list}: {zh}"
                );
                assert!(!en.as_str().unwrap().is_empty(), "{list}: {code}");
            }
        }
    }
}
