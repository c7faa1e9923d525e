//! Exports of the overdue list and the township overview, as CSV (UTF-8 with a BOM, so
//! Excel opens it right) and XLSX, in the reader's language. In the workbook numbers
//! are numbers and dates are dates (sorting by days overdue or by due date works), and
//! text is never a formula. Each export is written to the access log by the caller.
//! Files are named in the reader's language with the township and the day.

use super::figures::TownshipOverview;
use super::lang::Lang;
use chrono::{Datelike, Timelike};
use chrono::{NaiveDate, NaiveDateTime};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

fn excel_day(d: &NaiveDate) -> Result<ExcelDateTime, rust_xlsxwriter::XlsxError> {
    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
}

fn excel_moment(t: &NaiveDateTime) -> Result<ExcelDateTime, rust_xlsxwriter::XlsxError> {
    excel_day(&t.date())?.and_hms(t.hour() as u16, t.minute() as u8, t.second() as f64)
}

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
    /// The sheet's name for a person.
    pub fn title(self, l: Lang) -> &'static str {
        match self {
            Sheet::Overdue => l.t("export.overdue"),
            Sheet::Overview => l.t("export.overview"),
        }
    }
}

/// One cell: text, a number, a day or a moment (in the deployment's zone).
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    Date(NaiveDate),
    Time(NaiveDateTime),
    Empty,
}

impl Cell {
    fn date(s: Option<&str>) -> Cell {
        match s.and_then(|s| NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()) {
            Some(d) => Cell::Date(d),
            None => Cell::Empty,
        }
    }
    fn n(v: impl Into<f64>) -> Cell {
        Cell::Number(v.into())
    }
    fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }
    /// The cell as CSV text.
    fn csv(&self) -> String {
        match self {
            Cell::Text(s) => safe(s),
            Cell::Number(n) => n.to_string(),
            Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
            Cell::Time(t) => t.format("%Y-%m-%d %H:%M").to_string(),
            Cell::Empty => String::new(),
        }
    }
}

/// The header and rows of a sheet, in `l`.
pub fn table(l: Lang, t: &TownshipOverview, sheet: Sheet) -> (Vec<&'static str>, Vec<Vec<Cell>>) {
    let sep = l.pick("、", ", ");
    match sheet {
        Sheet::Overdue => (
            vec![
                l.pick("姓名", "Name"),
                l.t("col.village"),
                l.t("col.director"),
                l.t("col.risk"),
                l.t("col.categories"),
                l.t("col.last_visit"),
                l.t("col.due"),
                l.t("col.days_overdue"),
                l.t("col.state"),
            ],
            t.overdue
                .iter()
                .map(|o| {
                    vec![
                        Cell::text(&o.name),
                        Cell::text(&o.village.name),
                        Cell::text(o.directors.join(sep)),
                        Cell::text(l.code(&o.risk_colour)),
                        Cell::text(l.codes(&o.categories)),
                        Cell::date(o.last_visit_on.as_deref()),
                        Cell::date(Some(&o.due_on)),
                        Cell::n(o.days_overdue as f64),
                        Cell::text(if o.visited_unsynced {
                            l.t("state.visited_unsynced")
                        } else {
                            l.t("state.not_visited")
                        }),
                    ]
                })
                .collect(),
        ),
        Sheet::Overview => (
            vec![
                l.t("col.director"),
                l.t("col.villages"),
                l.t("col.children"),
                l.t("fig.overdue_not_visited"),
                l.t("fig.visited_unsynced"),
                l.t("admin.phones"),
                l.t("col.last_sync"),
                l.t("col.pending"),
                l.t("col.state"),
            ],
            t.directors
                .iter()
                .map(|d| {
                    let last = d
                        .devices
                        .iter()
                        .filter(|x| !x.revoked)
                        .filter_map(|x| x.last_sync_ms)
                        .max()
                        .and_then(chrono::DateTime::from_timestamp_millis)
                        .map(|t| t.with_timezone(&crate::model::clock::zone()).naive_local());
                    vec![
                        Cell::text(&d.name),
                        Cell::text(
                            d.villages
                                .iter()
                                .map(|v| v.name.as_str())
                                .collect::<Vec<_>>()
                                .join(sep),
                        ),
                        Cell::n(d.children as f64),
                        Cell::n(d.overdue_not_visited as f64),
                        Cell::n(d.overdue_visited_unsynced as f64),
                        Cell::n(d.devices.iter().filter(|x| !x.revoked).count() as f64),
                        last.map(Cell::Time).unwrap_or(Cell::Empty),
                        Cell::n(
                            d.devices
                                .iter()
                                .filter(|x| !x.revoked)
                                .map(|x| x.pending_changes)
                                .sum::<u64>() as f64,
                        ),
                        Cell::text(state_word(l, &d.state)),
                    ]
                })
                .collect(),
        ),
    }
}

/// A director's state (`DirectorStatus::state`) as a word.
pub fn state_word(l: Lang, state: &str) -> &'static str {
    match state {
        "silent" => l.t("state.silent"),
        "stale" => l.t("state.stale"),
        "mostly_overdue" => l.t("state.overdue_many"),
        "no_phone" => l.t("state.no_phone"),
        _ => l.t("state.ok"),
    }
}

/// A text cell a spreadsheet must not evaluate.
fn safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

/// The file's name for a person: the sheet, the township and the day, e.g.
/// `逾期名单-向阳街道-2026-05-01.xlsx`.
pub fn file_name(l: Lang, sheet: Sheet, t: &TownshipOverview, ext: &str) -> String {
    let clean: String = t
        .township
        .name
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '/' | '\\' | '"' | ':' | '*' | '?' | '<' | '>' | '|')
        })
        .collect();
    let title = match (sheet, l) {
        (Sheet::Overdue, Lang::En) => "Overdue-list",
        (s, _) => s.title(l),
    };
    format!("{title}-{clean}-{}.{ext}", t.today)
}

/// `Content-Disposition` for a download named `name` (RFC 6266: an ASCII fallback and
/// the UTF-8 name percent-encoded, which every browser in use shows).
pub fn content_disposition(name: &str, ext: &str) -> String {
    let mut enc = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
            enc.push(b as char);
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"tonghu-export.{ext}\"; filename*=UTF-8''{enc}")
}

/// The sheet as CSV (UTF-8 with BOM, CRLF).
pub fn csv(l: Lang, t: &TownshipOverview, sheet: Sheet) -> Vec<u8> {
    let (head, rows) = table(l, t, sheet);
    let quote = |s: String| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    };
    let mut out = String::from("\u{feff}");
    out.push_str(
        &head
            .iter()
            .map(|h| quote(safe(h)))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push_str("\r\n");
    for r in rows {
        out.push_str(
            &r.iter()
                .map(|c| quote(c.csv()))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// The sheet as an XLSX workbook: numbers as numbers, days and moments as dates.
pub fn xlsx(l: Lang, t: &TownshipOverview, sheet: Sheet) -> Result<Vec<u8>, String> {
    let (head, rows) = table(l, t, sheet);
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(sheet.title(l)).map_err(|e| e.to_string())?;
    let bold = Format::new().set_bold();
    let day = Format::new().set_num_format("yyyy-mm-dd");
    let moment = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    for (c, h) in head.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(|e| e.to_string())?;
        ws.set_column_width(c as u16, 16)
            .map_err(|e| e.to_string())?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                // Strings, never formulas.
                Cell::Text(s) => ws.write_string(r, c, s).map(|_| ()),
                Cell::Number(n) => ws.write_number(r, c, *n).map(|_| ()),
                Cell::Date(d) => excel_day(d)
                    .and_then(|d| ws.write_datetime_with_format(r, c, d, &day).map(|_| ())),
                Cell::Time(t) => excel_moment(t)
                    .and_then(|t| ws.write_datetime_with_format(r, c, t, &moment).map(|_| ())),
                Cell::Empty => Ok(()),
            }
            .map_err(|e| e.to_string())?;
        }
    }
    ws.autofilter(0, 0, rows.len() as u32, head.len().saturating_sub(1) as u16)
        .map_err(|e| e.to_string())?;
    wb.save_to_buffer().map_err(|e| e.to_string())
}
