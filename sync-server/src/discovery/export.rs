//! The month's findings and their outcomes as XLSX, for the county's own records:
//! dates as date cells, counts as numbers, ID numbers never whole (the task's sentence
//! names the person). The caller writes the export to the access log.

use crate::console::lang::Lang;
use crate::store::discovery::{FindingRecord, TaskState};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, XlsxError};
use std::collections::HashMap;

/// The header row, in English.
pub const HEADER_EN: [&str; 10] = [
    "List",
    "List month",
    "Finding",
    "Village",
    "What to check",
    "Found on",
    "Due",
    "Outcome",
    "Done on",
    "Days since found",
];

/// The header row, in Chinese.
pub const HEADER: [&str; 10] = [
    "名单",
    "名单月份",
    "发现类型",
    "村居",
    "核查内容",
    "发现日期",
    "截止日期",
    "核查结果",
    "完成日期",
    "已过天数",
];

fn date_cell(s: &str) -> Option<ExcelDateTime> {
    let d = chrono::NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?;
    use chrono::Datelike;
    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8).ok()
}

/// The workbook's bytes, in the reader's language `l` (the county's list names and
/// the tasks' sentences are data and stay as written).
pub fn xlsx(
    l: Lang,
    rows: &[(FindingRecord, Option<TaskState>)],
    kinds: &HashMap<String, String>,
    places: &HashMap<String, String>,
    now_ms: i64,
) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(l.pick("主动发现", "Active discovery"))?;
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let header = if l.is_en() { HEADER_EN } else { HEADER };
    for (c, h) in header.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    let widths = [18.0, 10.0, 22.0, 16.0, 60.0, 12.0, 12.0, 18.0, 12.0, 10.0];
    for (c, w) in widths.iter().enumerate() {
        sheet.set_column_width(c as u16, *w)?;
    }
    for (i, (f, s)) in rows.iter().enumerate() {
        let r = (i + 1) as u32;
        let title = s
            .as_ref()
            .and_then(|s| s.title.clone())
            .map(|t| t.split("。请升级应用").next().unwrap_or("").to_string())
            .unwrap_or_else(|| l.pick("（待分配村居）", "(waiting for a village)").into());
        let cells: [String; 5] = [
            kinds
                .get(&f.list_kind)
                .cloned()
                .unwrap_or(f.list_kind.clone()),
            f.list_month.clone(),
            l.code(&f.finding),
            f.village
                .as_ref()
                .map(|v| places.get(v).cloned().unwrap_or(v.clone()))
                .unwrap_or_else(|| l.pick("待分配", "to be assigned").into()),
            title,
        ];
        for (c, v) in cells.iter().enumerate() {
            let v = if v.starts_with(['=', '+', '-', '@']) {
                format!("'{v}")
            } else {
                v.clone()
            };
            sheet.write_string(r, c as u16, v)?;
        }
        let found = chrono::DateTime::from_timestamp_millis(f.created_ms)
            .map(|t| {
                t.with_timezone(&crate::model::clock::zone())
                    .date_naive()
                    .to_string()
            })
            .unwrap_or_default();
        if let Some(d) = date_cell(&found) {
            sheet.write_datetime_with_format(r, 5, &d, &date)?;
        }
        if let Some(d) = s
            .as_ref()
            .and_then(|s| s.due_on.as_deref())
            .and_then(date_cell)
        {
            sheet.write_datetime_with_format(r, 6, &d, &date)?;
        }
        let outcome = match s.as_ref().and_then(|s| s.outcome.as_deref()) {
            Some(o) => l.code(o),
            None if s.as_ref().and_then(|s| s.done_on.as_ref()).is_some() => {
                l.pick("已完成", "done").into()
            }
            None if f.village.is_none() => l.pick("待分配村居", "waiting for a village").into(),
            None => l.pick("待核查", "open").into(),
        };
        sheet.write_string(r, 7, outcome)?;
        if let Some(d) = s
            .as_ref()
            .and_then(|s| s.done_on.as_deref())
            .and_then(date_cell)
        {
            sheet.write_datetime_with_format(r, 8, &d, &date)?;
        }
        sheet.write_number(r, 9, ((now_ms - f.created_ms).max(0) / 86_400_000) as f64)?;
    }
    book.save_to_buffer()
}
