//! Exports of the overdue list and the township overview, as CSV (UTF-8 with a BOM, so
//! Excel opens it right) and XLSX. Each export is written to the access log by the
//! caller. Cells that a spreadsheet would run as a formula are quoted.

use super::figures::TownshipOverview;
use rust_xlsxwriter::{Format, Workbook};

/// What to export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sheet {
    /// The overdue children.
    Overdue,
    /// The directors and their phones.
    Overview,
}

impl Sheet {
    pub fn parse(s: &str) -> Option<Sheet> {
        match s {
            "overdue" => Some(Sheet::Overdue),
            "overview" => Some(Sheet::Overview),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Sheet::Overdue => "overdue",
            Sheet::Overview => "overview",
        }
    }
}

/// The header and rows of a sheet.
pub fn table(t: &TownshipOverview, sheet: Sheet) -> (Vec<&'static str>, Vec<Vec<String>>) {
    match sheet {
        Sheet::Overdue => (
            vec![
                "姓名 name",
                "村 village",
                "风险 risk",
                "类别 categories",
                "上次走访 last visit",
                "应访日期 due",
                "逾期天数 days overdue",
                "状态 state",
            ],
            t.overdue
                .iter()
                .map(|o| {
                    vec![
                        o.name.clone(),
                        o.village.name.clone(),
                        domain::labels::code_label_zh(&o.risk_colour).to_string(),
                        o.categories
                            .iter()
                            .map(|c| domain::labels::code_label_zh(c))
                            .collect::<Vec<_>>()
                            .join("、"),
                        o.last_visit_on.clone().unwrap_or_default(),
                        o.due_on.clone(),
                        o.days_overdue.to_string(),
                        if o.visited_unsynced {
                            "已走访未同步 visited, not synced"
                        } else {
                            "未走访 not visited"
                        }
                        .to_string(),
                    ]
                })
                .collect(),
        ),
        Sheet::Overview => (
            vec![
                "儿童主任 director",
                "账号 login",
                "村 villages",
                "儿童 children",
                "逾期未访 overdue not visited",
                "已访未同步 visited not synced",
                "手机 devices",
                "最近同步(天) last sync (days)",
                "待传记录 pending",
                "状态 state",
            ],
            t.directors
                .iter()
                .map(|d| {
                    let last = d.devices.iter().filter_map(|x| x.last_sync_days).min();
                    vec![
                        d.name.clone(),
                        d.login.clone(),
                        d.villages
                            .iter()
                            .map(|v| v.name.clone())
                            .collect::<Vec<_>>()
                            .join("、"),
                        d.children.to_string(),
                        d.overdue_not_visited.to_string(),
                        d.overdue_visited_unsynced.to_string(),
                        d.devices.iter().filter(|x| !x.revoked).count().to_string(),
                        last.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
                        d.devices
                            .iter()
                            .map(|x| x.pending_changes)
                            .sum::<u64>()
                            .to_string(),
                        if d.silent {
                            "失联 silent"
                        } else if d.stale {
                            "滞后 stale"
                        } else {
                            "正常 ok"
                        }
                        .to_string(),
                    ]
                })
                .collect(),
        ),
    }
}

/// A cell a spreadsheet must not evaluate.
fn safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

/// The sheet as CSV (UTF-8 with BOM, CRLF).
pub fn csv(t: &TownshipOverview, sheet: Sheet) -> Vec<u8> {
    let (head, rows) = table(t, sheet);
    let quote = |s: &str| {
        let s = safe(s);
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    };
    let mut out = String::from("\u{feff}");
    out.push_str(&head.iter().map(|h| quote(h)).collect::<Vec<_>>().join(","));
    out.push_str("\r\n");
    for r in rows {
        out.push_str(&r.iter().map(|c| quote(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// The sheet as an XLSX workbook.
pub fn xlsx(t: &TownshipOverview, sheet: Sheet) -> Result<Vec<u8>, String> {
    let (head, rows) = table(t, sheet);
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(match sheet {
        Sheet::Overdue => "逾期 overdue",
        Sheet::Overview => "概况 overview",
    })
    .map_err(|e| e.to_string())?;
    let bold = Format::new().set_bold();
    for (c, h) in head.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(|e| e.to_string())?;
        ws.set_column_width(c as u16, 18)
            .map_err(|e| e.to_string())?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            // Strings, never formulas.
            ws.write_string(r as u32 + 1, c as u16, cell)
                .map_err(|e| e.to_string())?;
        }
    }
    wb.save_to_buffer().map_err(|e| e.to_string())
}
