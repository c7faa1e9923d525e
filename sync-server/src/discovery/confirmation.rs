//! The county confirms (增员 / 变更 / 减员): the confirmation queue of a county admin's
//! area and the decision, written as the child's `county_decision` row by the server's
//! replica (the same push as a phone's; only the replica may write it). Whether a child
//! is awaiting is [`domain::care::confirmation_state`], the one rule phone and console
//! share; the monthly standard comes from the dated table of standards in the
//! database ([`standards`]), never from code.

use super::{Discovery, ServerRow};
use crate::console::people::Viewer;
use crate::console::ConsoleError;
use crate::model::Role;
use crate::store::Database;
use domain::care::{self, ConfirmationState, CountyDecision, MonthlyRate};
use domain::{Category, Child};
use std::collections::HashMap;
use uuid::Uuid;

type Result<T> = std::result::Result<T, ConsoleError>;

/// A child in the confirmation queue.
#[derive(Clone, Debug)]
pub struct ConfirmationItem {
    pub child_id: Uuid,
    pub village: String,
    pub child: Child,
    pub decision: Option<CountyDecision>,
    pub state: ConfirmationState,
}

/// What a county admin decides.
#[derive(Clone, Debug)]
pub enum Decision {
    /// Confirm, with the day brought into care for an addition (default: today).
    Confirm {
        in_care_since: Option<chrono::NaiveDate>,
    },
    SendBack {
        reason: String,
    },
}

/// The table of monthly standards as the domain reads it (lines with an unknown
/// category are left out).
pub async fn standards(db: &dyn Database) -> Result<Vec<MonthlyRate>> {
    Ok(db
        .care_standards()
        .await?
        .into_iter()
        .filter_map(|l| {
            Some(MonthlyRate {
                category: Category::from_code(&l.category)?,
                yuan: u32::try_from(l.yuan).ok()?,
                effective_from: chrono::NaiveDate::parse_from_str(&l.effective_from, "%Y-%m-%d")
                    .ok()?,
            })
        })
        .collect())
}

/// An admin sets a line of the table: `category` is paid `yuan` a month from
/// `effective_from` on.
pub async fn set_standard(
    db: &dyn Database,
    viewer: &Viewer,
    category: &str,
    yuan: &str,
    effective_from: &str,
) -> Result<()> {
    if !viewer.role.administers() {
        return Err(ConsoleError::Forbidden);
    }
    let Some(cat) = Category::from_code(category) else {
        return Err(ConsoleError::bad(
            "unknown_category",
            "请选择儿童类别",
            "choose a category",
        ));
    };
    let yuan: i64 = domain::normalize::ascii_form(yuan.trim())
        .replace([',', '，'], "")
        .parse()
        .ok()
        .filter(|y| (0..=100_000).contains(y))
        .ok_or_else(|| {
            ConsoleError::bad(
                "bad_amount",
                "请填写 0 到 100000 之间的整数金额（元/月）",
                "enter a whole amount of yuan per month, 0 to 100000",
            )
        })?;
    let from = domain::normalize::normalize_date(effective_from.trim()).into_owned();
    if chrono::NaiveDate::parse_from_str(&from, "%Y-%m-%d").is_err() {
        return Err(ConsoleError::bad(
            "bad_date",
            "生效日期格式应为 年-月-日，例如 2026-07-01",
            "the start date is YYYY-MM-DD, e.g. 2026-07-01",
        ));
    }
    db.set_care_standard(
        cat.code(),
        yuan,
        &from,
        viewer.account_id,
        crate::model::clock::now_ms() as i64,
    )
    .await?;
    crate::console::log(
        db,
        viewer,
        "care_standard_set",
        &format!("{} {} {}", cat.code(), yuan, from),
    )
    .await?;
    Ok(())
}

fn child_and_decision(
    records: &[crate::store::RecordRow],
) -> HashMap<Uuid, (Option<Child>, Option<CountyDecision>, String)> {
    let mut out: HashMap<Uuid, (Option<Child>, Option<CountyDecision>, String)> = HashMap::new();
    for r in records {
        match r.table.as_str() {
            "child" => {
                let e = out.entry(r.row_id).or_insert((None, None, r.scope.clone()));
                e.0 = Child::from_fields(&r.fields).ok();
                e.2 = r.scope.clone();
            }
            "county_decision" => {
                if let Some(c) = r.child_id {
                    let e = out.entry(c).or_insert((None, None, r.scope.clone()));
                    e.1 = CountyDecision::from_fields(&r.fields).ok();
                }
            }
            _ => {}
        }
    }
    out
}

/// The children of `viewer`'s area awaiting the county, or sent back (oldest
/// registration first). Logged as a view.
pub async fn queue(db: &dyn Database, viewer: &Viewer) -> Result<Vec<ConfirmationItem>> {
    if !viewer.role.administers() {
        return Err(ConsoleError::Forbidden);
    }
    crate::console::projection::refresh(db).await?;
    let villages = viewer.principal.read_scopes.clone();
    let facts = db.console_children(&villages).await?;
    let ids: Vec<Uuid> = facts.iter().map(|f| f.child_id).collect();
    let mut items = Vec::new();
    for chunk in ids.chunks(500) {
        let records = db.child_records(chunk).await?;
        for (child_id, (child, decision, village)) in child_and_decision(&records) {
            let Some(child) = child else { continue };
            if !viewer.can_read(&village) {
                continue;
            }
            let state = care::confirmation_state(&child, decision.as_ref());
            if matches!(
                state,
                ConfirmationState::Awaiting { .. } | ConfirmationState::SentBack { .. }
            ) {
                items.push(ConfirmationItem {
                    child_id,
                    village,
                    child,
                    decision,
                    state,
                });
            }
        }
    }
    items.sort_by(|a, b| {
        a.child
            .added_on
            .cmp(&b.child.added_on)
            .then(a.child_id.cmp(&b.child_id))
    });
    crate::console::log(
        db,
        viewer,
        "confirmation_queue",
        viewer.place.as_deref().unwrap_or(""),
    )
    .await?;
    Ok(items)
}

impl Discovery {
    /// A county admin confirms or sends back what `child_id` is awaiting; written as
    /// the child's `county_decision` row by the server's replica. Returns the child's
    /// state after the decision.
    pub async fn decide(
        &self,
        db: &dyn Database,
        viewer: &Viewer,
        child_id: Uuid,
        decision: Decision,
        today: chrono::NaiveDate,
    ) -> Result<ConfirmationState> {
        if viewer.role != Role::CountyAdmin {
            return Err(ConsoleError::bad(
                "county_only",
                "增员、变更和减员由县（区）民政管理员确认",
                "additions, changes and exits are confirmed by a county admin",
            ));
        }
        let records = db.child_records(&[child_id]).await?;
        let (child, existing, village) = child_and_decision(&records)
            .remove(&child_id)
            .ok_or(ConsoleError::NotFound)?;
        let child = child.ok_or(ConsoleError::NotFound)?;
        if !viewer.can_read(&village) {
            return Err(ConsoleError::Forbidden);
        }
        let at = chrono::Utc::now()
            .with_timezone(&crate::model::clock::zone())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
        let by = viewer.name.clone();
        let mut row = existing.clone().unwrap_or(CountyDecision {
            child_id,
            confirmed: None,
            sent_back: None,
        });
        let to_err = |e: domain::DomainError| ConsoleError::bad(e.code, e.zh, e.en);
        let fields: Vec<(&'static str, serde_json::Value)> = match decision {
            Decision::Confirm { in_care_since } => {
                let rates = standards(db).await?;
                let c = care::confirm(
                    &child,
                    existing.as_ref(),
                    in_care_since,
                    &rates,
                    &by,
                    &at,
                    today,
                )
                .map_err(to_err)?;
                row.confirmed = Some(c);
                row.sent_back = None;
                let f = row.to_fields();
                vec![
                    ("child_id", f["child_id"].clone()),
                    ("confirmed", f["confirmed"].clone()),
                    ("sent_back", serde_json::Value::Null),
                ]
            }
            Decision::SendBack { reason } => {
                let s = care::send_back(&child, existing.as_ref(), &reason, &by, &at)
                    .map_err(to_err)?;
                row.sent_back = Some(s);
                let f = row.to_fields();
                vec![
                    ("child_id", f["child_id"].clone()),
                    ("sent_back", f["sent_back"].clone()),
                ]
            }
        };
        self.write_rows(
            db,
            std::slice::from_ref(&village),
            vec![ServerRow {
                table: "county_decision",
                row_id: care::decision_row_id(child_id),
                scope: village.clone(),
                fields,
            }],
            &|_, _| {},
        )
        .await?;
        crate::console::log(db, viewer, "confirmation_decide", &child_id.to_string()).await?;
        Ok(care::confirmation_state(&child, Some(&row)))
    }
}
