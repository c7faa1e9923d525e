//! Reading a month's allowance list as departments send it: XLSX and XLS (calamine),
//! CSV in UTF-8 or GB18030/GBK (encoding_rs), with or without a BOM, CRLF, a title row
//! or merged header cells above the real header, trailing empty rows, numbers stored
//! as numbers. The bytes are read in memory and never written anywhere.
//!
//! Three steps, each pure: [`read_sheet`] turns the bytes into a grid of cells with
//! their spreadsheet line numbers; [`guess_header`] finds the header row and maps the
//! columns people usually name (身份证号/证件号码, 姓名, 户籍地址/所在村 …) to
//! [`Column`]s, saying which required ones it could not find (the console then asks);
//! [`read_rows`] reads every line under the header into a [`ListRow`] or a
//! [`RowProblem`] with its line number and the reason in Chinese and English.

use domain::normalize::ascii_form;
use domain::{normalize_id_number, parse_id_number};
use std::collections::BTreeMap;

/// One cell as the file holds it.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    /// A number cell (an ID number saved as a number loses its last digits).
    Number(f64),
    /// A date cell, as `YYYY-MM-DD`.
    Date(String),
}

impl Cell {
    fn text(&self) -> Option<String> {
        match self {
            Cell::Empty => None,
            Cell::Text(s) => {
                let t = s.trim();
                (!t.is_empty()).then(|| t.to_string())
            }
            Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => Some(format!("{}", *n as i64)),
            Cell::Number(n) => Some(format!("{n}")),
            Cell::Date(d) => Some(d.clone()),
        }
    }

    fn is_empty(&self) -> bool {
        self.text().is_none()
    }
}

/// A sheet: rows of cells, each with its line number in the file (1-based, as a
/// spreadsheet program shows it).
#[derive(Clone, Debug, Default)]
pub struct Sheet {
    pub rows: Vec<(usize, Vec<Cell>)>,
}

/// A file that cannot be read at all (each row's problems are [`RowProblem`]s).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileProblem {
    pub code: &'static str,
    pub zh: String,
    pub en: String,
}

fn file_problem(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> FileProblem {
    FileProblem {
        code,
        zh: zh.into(),
        en: en.into(),
    }
}

/// The kind of file, from its name (and, for a name without a known ending, its first
/// bytes: a ZIP is XLSX, an OLE compound file XLS, anything else CSV).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Xlsx,
    Xls,
    Csv,
}

impl FileKind {
    pub fn of(file_name: &str, bytes: &[u8]) -> FileKind {
        let lower = file_name.to_ascii_lowercase();
        if lower.ends_with(".xlsx") || lower.ends_with(".xlsm") || bytes.starts_with(b"PK\x03\x04")
        {
            FileKind::Xlsx
        } else if lower.ends_with(".xls") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
            FileKind::Xls
        } else {
            FileKind::Csv
        }
    }
}

/// Reads the first sheet that has data (XLSX/XLS) or the CSV text into a [`Sheet`].
pub fn read_sheet(file_name: &str, bytes: &[u8]) -> Result<Sheet, FileProblem> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(file_problem(
            "empty_file",
            "文件是空的",
            "the file is empty",
        ));
    }
    match FileKind::of(file_name, bytes) {
        FileKind::Csv => read_csv(bytes),
        kind => read_workbook(kind, bytes),
    }
}

fn read_workbook(kind: FileKind, bytes: &[u8]) -> Result<Sheet, FileProblem> {
    use calamine::{Data, Reader};
    let unreadable = |e: &dyn std::fmt::Display| {
        let _ = e;
        file_problem(
            "unreadable_file",
            match kind {
                FileKind::Xls => "无法读取这个 XLS 文件：文件可能已损坏、加了密码，或不是 Excel 文件。请用 Excel 打开后另存为 .xlsx 再上传",
                _ => "无法读取这个 XLSX 文件：文件可能已损坏、加了密码，或不是 Excel 文件。请用 Excel 打开后重新保存再上传",
            },
            "the spreadsheet cannot be read: it may be damaged, password-protected or not an Excel file; save it again from Excel and upload it",
        )
    };
    let cursor = std::io::Cursor::new(bytes);
    let mut book: calamine::Sheets<_> = match kind {
        FileKind::Xls => {
            calamine::Sheets::Xls(calamine::Xls::new(cursor).map_err(|e| unreadable(&e))?)
        }
        _ => calamine::Sheets::Xlsx(calamine::Xlsx::new(cursor).map_err(|e| unreadable(&e))?),
    };
    let names = book.sheet_names().to_vec();
    for name in names {
        let range = book.worksheet_range(&name).map_err(|e| unreadable(&e))?;
        let (first_row, _) = range.start().unwrap_or((0, 0));
        let mut sheet = Sheet::default();
        for (i, row) in range.rows().enumerate() {
            let cells: Vec<Cell> = row
                .iter()
                .map(|d| match d {
                    Data::Empty | Data::Error(_) => Cell::Empty,
                    Data::String(s) => Cell::Text(s.clone()),
                    Data::Float(f) => Cell::Number(*f),
                    Data::Int(i) => Cell::Number(*i as f64),
                    Data::Bool(b) => Cell::Text(b.to_string()),
                    Data::DateTime(dt) => dt
                        .as_datetime()
                        .map(|t| Cell::Date(t.date().to_string()))
                        .unwrap_or(Cell::Number(dt.as_f64())),
                    Data::DateTimeIso(s) | Data::DurationIso(s) => {
                        Cell::Text(s.get(..10).unwrap_or(s).to_string())
                    }
                })
                .collect();
            sheet.rows.push((first_row as usize + i + 1, cells));
        }
        if sheet
            .rows
            .iter()
            .any(|(_, r)| r.iter().any(|c| !c.is_empty()))
        {
            return Ok(sheet);
        }
    }
    Err(file_problem(
        "empty_file",
        "表格里没有数据",
        "the spreadsheet has no data",
    ))
}

/// Decodes CSV bytes: a UTF-8 BOM or valid UTF-8 is UTF-8; anything else is read as
/// GB18030 (which contains GBK and GB2312), as Excel saves "CSV" on a Chinese Windows.
pub fn decode_text(bytes: &[u8]) -> Result<String, FileProblem> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        let enc = if bytes[0] == 0xFF {
            encoding_rs::UTF_16LE
        } else {
            encoding_rs::UTF_16BE
        };
        let (text, _, bad) = enc.decode(bytes);
        if !bad {
            return Ok(text.into_owned());
        }
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(s.to_string());
    }
    let (text, _, bad) = encoding_rs::GB18030.decode(bytes);
    if bad {
        return Err(file_problem(
            "unknown_encoding",
            "无法识别文件的文字编码（既不是 UTF-8 也不是 GBK/GB18030）。请用 Excel 另存为“CSV UTF-8”或 .xlsx 后上传",
            "the file's text encoding is neither UTF-8 nor GBK/GB18030; save it as CSV UTF-8 or .xlsx",
        ));
    }
    Ok(text.into_owned())
}

fn read_csv(bytes: &[u8]) -> Result<Sheet, FileProblem> {
    let text = decode_text(bytes)?;
    // A tab-separated export ("Unicode text") is read the same way.
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if first_line.matches('\t').count() > first_line.matches(',').count() {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut sheet = Sheet::default();
    // Line numbers from byte offsets (a quoted field may hold line breaks): the line
    // a spreadsheet program shows for the record's first character.
    let (mut counted_to, mut line) = (0usize, 1usize);
    let bytes = text.as_bytes();
    for rec in reader.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            file_problem(
                "bad_csv",
                format!("CSV 文件第 {line} 行格式有误（引号不成对等），无法读取"),
                format!("CSV line {line} is malformed (unbalanced quotes?)"),
            )
        })?;
        let at = rec
            .position()
            .map(|p| p.byte() as usize)
            .unwrap_or(counted_to);
        // After a CRLF the csv crate places the record on the LF: step over it.
        let at = at + usize::from(bytes.get(at) == Some(&b'\n'));
        let at = at.min(bytes.len()).max(counted_to);
        line += bytes[counted_to..at]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        counted_to = at;
        sheet.rows.push((
            line,
            rec.iter().map(|s| Cell::Text(s.to_string())).collect(),
        ));
    }
    Ok(sheet)
}

/// The columns active discovery reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Column {
    IdNumber,
    Name,
    Sex,
    BirthDate,
    Address,
    Village,
    Township,
    HouseholdHeadId,
    HouseholdNo,
    Relationship,
    DisabilityGrade,
    Category,
}

impl Column {
    pub const ALL: [Column; 12] = [
        Column::IdNumber,
        Column::Name,
        Column::Sex,
        Column::BirthDate,
        Column::Address,
        Column::Village,
        Column::Township,
        Column::HouseholdHeadId,
        Column::HouseholdNo,
        Column::Relationship,
        Column::DisabilityGrade,
        Column::Category,
    ];

    /// The stable code (the mapping form's values).
    pub fn code(self) -> &'static str {
        match self {
            Column::IdNumber => "id_number",
            Column::Name => "name",
            Column::Sex => "sex",
            Column::BirthDate => "birth_date",
            Column::Address => "address",
            Column::Village => "village",
            Column::Township => "township",
            Column::HouseholdHeadId => "household_head_id",
            Column::HouseholdNo => "household_no",
            Column::Relationship => "relationship",
            Column::DisabilityGrade => "disability_grade",
            Column::Category => "category",
        }
    }

    pub fn from_code(code: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.code() == code)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Column::IdNumber => "身份证号",
            Column::Name => "姓名",
            Column::Sex => "性别",
            Column::BirthDate => "出生日期",
            Column::Address => "户籍地址",
            Column::Village => "所在村（社区）",
            Column::Township => "所在镇（街道）",
            Column::HouseholdHeadId => "户主身份证号",
            Column::HouseholdNo => "户编号",
            Column::Relationship => "与户主关系",
            Column::DisabilityGrade => "残疾等级",
            Column::Category => "类别",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Column::IdNumber => "ID number",
            Column::Name => "name",
            Column::Sex => "sex",
            Column::BirthDate => "date of birth",
            Column::Address => "registered address",
            Column::Village => "village",
            Column::Township => "township",
            Column::HouseholdHeadId => "household head's ID number",
            Column::HouseholdNo => "household number",
            Column::Relationship => "relationship to the household head",
            Column::DisabilityGrade => "disability grade",
            Column::Category => "category",
        }
    }

    /// Header texts people use for the column (compared after [`header_key`]).
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::IdNumber => &[
                "身份证号",
                "身份证号码",
                "公民身份号码",
                "证件号码",
                "证件号",
                "身份证",
                "身份证件号码",
                "成员身份证号",
                "救助对象身份证号",
                "残疾人身份证号",
            ],
            Column::Name => &[
                "姓名",
                "名字",
                "成员姓名",
                "救助对象姓名",
                "残疾人姓名",
                "保障对象姓名",
                "人员姓名",
            ],
            Column::Sex => &["性别"],
            Column::BirthDate => &["出生日期", "出生年月", "出生年月日", "生日"],
            Column::Address => &[
                "户籍地址",
                "户籍所在地",
                "家庭住址",
                "家庭地址",
                "住址",
                "地址",
                "居住地址",
                "现住址",
            ],
            Column::Village => &[
                "所在村",
                "村居",
                "村(居)",
                "村(社区)",
                "村/社区",
                "所属村居",
                "所在村居",
                "村委会",
                "社区",
                "村",
                "村(居)委会",
                "所在村(社区)",
                "行政村",
            ],
            Column::Township => &[
                "乡镇",
                "镇街",
                "乡镇(街道)",
                "镇(街道)",
                "所在乡镇",
                "所在镇街",
                "街道",
                "乡镇街道",
            ],
            Column::HouseholdHeadId => &[
                "户主身份证号",
                "户主身份证号码",
                "户主证件号码",
                "户主公民身份号码",
            ],
            Column::HouseholdNo => &["户编号", "家庭编号", "户号", "户籍编号"],
            Column::Relationship => &["与户主关系", "与户主的关系", "家庭关系", "关系"],
            Column::DisabilityGrade => &["残疾等级", "等级", "残疾级别"],
            Column::Category => &[
                "类别",
                "保障类别",
                "救助类别",
                "人员类别",
                "残疾类别",
                "供养类别",
            ],
        }
    }
}

/// A header text in the form aliases are compared in: ASCII forms of full-width
/// characters, no spaces, line breaks or asterisks (“*身份证号”), Chinese brackets as
/// ASCII ones.
pub fn header_key(text: &str) -> String {
    ascii_form(text)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '*')
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            c => c,
        })
        .collect()
}

fn column_of_header(text: &str) -> Option<Column> {
    let key = header_key(text);
    if key.is_empty() {
        return None;
    }
    // Exact first (户主身份证号 is not 身份证号), then a known name inside a longer one
    // (“成员身份证号码（18位）”), longest alias first.
    for c in Column::ALL {
        if c.aliases().iter().any(|a| header_key(a) == key) {
            return Some(c);
        }
    }
    let mut best: Option<(usize, Column)> = None;
    for c in Column::ALL {
        for a in c.aliases() {
            let a = header_key(a);
            if a.chars().count() >= 2 && key.contains(&a) && best.is_none_or(|(n, _)| a.len() > n) {
                best = Some((a.len(), c));
            }
        }
    }
    best.map(|(_, c)| c)
}

/// Which column of the sheet holds what.
pub type ColumnMap = BTreeMap<Column, usize>;

/// The header the reader found, or what it could not find.
#[derive(Clone, Debug)]
pub struct HeaderGuess {
    /// Index into [`Sheet::rows`] of the header row.
    pub header_index: usize,
    /// The header row's texts (merged cells above a blank one are carried right).
    pub headers: Vec<String>,
    pub map: ColumnMap,
    /// Required columns not found: the console asks for them.
    pub missing: Vec<Column>,
}

/// Looks for the header among the first rows: the row that names the most known
/// columns (a title row above it names none; a merged group heading above it names
/// fewer). Required: the ID number, the name, and a village or an address.
pub fn guess_header(sheet: &Sheet) -> HeaderGuess {
    let mut best = (0usize, 0usize, ColumnMap::new());
    for (i, (_, row)) in sheet.rows.iter().take(30).enumerate() {
        let mut map = ColumnMap::new();
        for (j, cell) in row.iter().enumerate() {
            if let Some(col) = cell.text().as_deref().and_then(column_of_header) {
                map.entry(col).or_insert(j);
            }
        }
        if map.len() > best.1 {
            best = (i, map.len(), map);
        }
    }
    let (header_index, _, map) = best;
    let headers = sheet
        .rows
        .get(header_index)
        .map(|(_, r)| r.iter().map(|c| c.text().unwrap_or_default()).collect())
        .unwrap_or_default();
    let missing = missing_columns(&map);
    HeaderGuess {
        header_index,
        headers,
        map,
        missing,
    }
}

/// The required columns a map lacks.
pub fn missing_columns(map: &ColumnMap) -> Vec<Column> {
    let mut missing = Vec::new();
    for c in [Column::IdNumber, Column::Name] {
        if !map.contains_key(&c) {
            missing.push(c);
        }
    }
    if !map.contains_key(&Column::Village) && !map.contains_key(&Column::Address) {
        missing.push(Column::Village);
    }
    missing
}

/// A column as a spreadsheet names it: `A`, `B`, … `AA` (or a 1-based number) → its
/// index.
pub fn column_index(text: &str) -> Option<usize> {
    let t = ascii_form(text).trim().to_ascii_uppercase();
    if let Ok(n) = t.parse::<usize>() {
        return n.checked_sub(1);
    }
    if t.is_empty() || t.len() > 3 || !t.chars().all(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let n = t
        .bytes()
        .fold(0usize, |n, b| n * 26 + usize::from(b - b'A' + 1));
    Some(n - 1)
}

/// The spreadsheet letter of a column index (0 → `A`, 26 → `AA`).
pub fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut out = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        out.push((b'A' + r as u8) as char);
        n = (n - 1) / 26;
    }
    out.iter().rev().collect()
}

/// One person on the list, as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListRow {
    pub line: usize,
    pub name: String,
    /// Normalised and check-digit verified.
    pub id_number: String,
    pub birth_date: chrono::NaiveDate,
    pub sex: domain::Sex,
    pub address: Option<String>,
    pub village: Option<String>,
    pub township: Option<String>,
    /// The household the row belongs to: `id:` + the household head's ID number
    /// (normalised, not checked: it only groups rows and names the head), else `no:`
    /// + the household number.
    pub household: Option<String>,
    pub relationship: Option<String>,
    pub disability_grade: Option<u8>,
    pub category: Option<String>,
}

/// Why a line was not read as a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowProblem {
    pub line: usize,
    pub code: &'static str,
    pub zh: String,
    pub en: String,
}

/// Every line under the header: the people read, the lines refused (with the
/// reason), and how many lines were empty (skipped: trailing rows of a spreadsheet).
#[derive(Clone, Debug, Default)]
pub struct ReadRows {
    pub rows: Vec<ListRow>,
    pub problems: Vec<RowProblem>,
    pub empty: usize,
}

/// Reads the lines under the header with `map`; `list_month` (`YYYY-MM`) is the day
/// ID numbers' birth dates are checked against (none may be born after the month).
pub fn read_rows(
    sheet: &Sheet,
    header_index: usize,
    map: &ColumnMap,
    list_month: &str,
) -> ReadRows {
    let last_day = domain::discovery::month_start(list_month)
        .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
        .and_then(|d| d.pred_opt())
        .unwrap_or(chrono::NaiveDate::MAX);
    let mut out = ReadRows::default();
    for (line, cells) in sheet.rows.iter().skip(header_index + 1) {
        let line = *line;
        let get = |c: Column| {
            map.get(&c)
                .and_then(|&j| cells.get(j))
                .unwrap_or(&Cell::Empty)
        };
        let text = |c: Column| {
            get(c)
                .text()
                .map(|s| domain::normalize::clean_text(&s).into_owned())
        };
        if cells.iter().all(Cell::is_empty) {
            out.empty += 1;
            continue;
        }
        match read_one(line, &get, &text, last_day) {
            Ok(row) => out.rows.push(row),
            Err(p) => out.problems.push(p),
        }
    }
    out
}

fn problem(line: usize, code: &'static str, zh: String, en: String) -> RowProblem {
    RowProblem { line, code, zh, en }
}

fn read_one<'c>(
    line: usize,
    get: &dyn Fn(Column) -> &'c Cell,
    text: &dyn Fn(Column) -> Option<String>,
    last_day: chrono::NaiveDate,
) -> Result<ListRow, RowProblem> {
    let id_cell = get(Column::IdNumber);
    let id_number = match id_cell {
        Cell::Number(n) => {
            return Err(problem(
                line,
                "id_number_as_number",
                format!(
                    "第 {line} 行：身份证号被表格存成了数字（显示为 {}），后几位已经丢失，无法核对。请把身份证号一列设为“文本”格式后重新导出",
                    short_number(*n)
                ),
                format!("line {line}: the ID number was saved as a number ({}) and its last digits are lost; format the column as text and export again", short_number(*n)),
            ))
        }
        _ => match text(Column::IdNumber) {
            Some(t) => t,
            None => {
                return Err(problem(
                    line,
                    "id_number_missing",
                    format!("第 {line} 行：没有身份证号"),
                    format!("line {line}: no ID number"),
                ))
            }
        },
    };
    if looks_scientific(&id_number) {
        return Err(problem(
            line,
            "id_number_as_number",
            format!("第 {line} 行：身份证号“{id_number}”是科学计数法（表格把它当成了数字），后几位已经丢失。请把身份证号一列设为“文本”格式后重新导出"),
            format!("line {line}: the ID number {id_number:?} is in scientific notation (saved as a number) and its last digits are lost; format the column as text and export again"),
        ));
    }
    let id_number = normalize_id_number(&id_number);
    let parsed = parse_id_number(&id_number, last_day).map_err(|e| {
        problem(
            line,
            "invalid_id_number",
            format!("第 {line} 行：{}", e.zh),
            format!("line {line}: {}", e.en),
        )
    })?;
    let name = text(Column::Name).unwrap_or_default();
    if name.is_empty() {
        return Err(problem(
            line,
            "name_missing",
            format!("第 {line} 行：没有姓名"),
            format!("line {line}: no name"),
        ));
    }
    let household = text(Column::HouseholdHeadId)
        .map(|h| format!("id:{}", normalize_id_number(&h)))
        .or_else(|| text(Column::HouseholdNo).map(|n| format!("no:{}", header_key(&n))));
    let grade = match text(Column::DisabilityGrade) {
        None => None,
        Some(g) => Some(disability_grade(&g).ok_or_else(|| {
            problem(
                line,
                "bad_disability_grade",
                format!(
                    "第 {line} 行：残疾等级“{}”无法识别（应为一级到四级）",
                    g.chars().take(20).collect::<String>()
                ),
                format!(
                    "line {line}: disability grade {:?} is not 1–4",
                    g.chars().take(20).collect::<String>()
                ),
            )
        })?),
    };
    Ok(ListRow {
        line,
        name: name.chars().take(40).collect(),
        id_number,
        birth_date: parsed.birth_date,
        sex: parsed.sex,
        address: text(Column::Address).map(|s| s.chars().take(200).collect()),
        village: text(Column::Village).map(|s| s.chars().take(60).collect()),
        township: text(Column::Township).map(|s| s.chars().take(60).collect()),
        household,
        relationship: text(Column::Relationship).map(|s| s.chars().take(20).collect()),
        disability_grade: grade,
        category: text(Column::Category).map(|s| s.chars().take(40).collect()),
    })
}

fn short_number(n: f64) -> String {
    if n.abs() >= 1e11 {
        format!("{n:.5E}")
    } else {
        format!("{n}")
    }
}

/// `3.70602E+17`, `3.706022015E17`: a number Excel wrote in scientific notation.
fn looks_scientific(s: &str) -> bool {
    let a = ascii_form(s).to_ascii_uppercase();
    let Some((mantissa, exp)) = a.split_once('E') else {
        return false;
    };
    !mantissa.is_empty()
        && mantissa.chars().all(|c| c.is_ascii_digit() || c == '.')
        && exp
            .trim_start_matches('+')
            .chars()
            .all(|c| c.is_ascii_digit())
        && !exp.trim_start_matches('+').is_empty()
}

/// 一级 / 1级 / 1 / 壹级 / 二级(重度) … → 1–4.
pub fn disability_grade(text: &str) -> Option<u8> {
    let t = ascii_form(text);
    for c in t.chars() {
        let g = match c {
            '1' | '一' | '壹' => 1,
            '2' | '二' | '贰' => 2,
            '3' | '三' | '叁' => 3,
            '4' | '四' | '肆' => 4,
            _ => continue,
        };
        return Some(g);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: &[&[&str]]) -> Sheet {
        Sheet {
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    (
                        i + 1,
                        r.iter()
                            .map(|s| {
                                if s.is_empty() {
                                    Cell::Empty
                                } else {
                                    Cell::Text(s.to_string())
                                }
                            })
                            .collect(),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn the_header_is_found_under_a_title_row_and_a_merged_group_heading() {
        let s = grid(&[
            &["2026年5月农村低保名单", "", "", ""],
            &["救助对象", "", "户籍信息", ""],
            &["姓名", "身份证号码", "所在村（社区）", "户主身份证号"],
            &["李小红", "370602201403021229", "东村", "370602196001011234"],
        ]);
        let g = guess_header(&s);
        assert_eq!(g.header_index, 2);
        assert_eq!(g.map[&Column::Name], 0);
        assert_eq!(g.map[&Column::IdNumber], 1);
        assert_eq!(g.map[&Column::Village], 2);
        assert_eq!(g.map[&Column::HouseholdHeadId], 3, "not the ID number");
        assert!(g.missing.is_empty());
    }

    #[test]
    fn an_unknown_header_leaves_the_column_for_the_person_to_map() {
        let s = grid(&[
            &["对象名称", "编码", "地点"],
            &["李小红", "370602201403021229", "东村"],
        ]);
        let g = guess_header(&s);
        assert_eq!(
            g.missing,
            vec![Column::IdNumber, Column::Name, Column::Village]
        );
    }

    #[test]
    fn every_malformed_row_gets_its_own_reason_with_its_line() {
        let mut s = grid(&[
            &["姓名", "身份证号", "村居", "残疾等级"],
            &["甲", "370602201403021229", "东村", "一级"],
            &["乙", "3.70602E+17", "东村", ""],
            &["丙", "370602201403021228", "东村", ""],
            &["", "370602201403021229", "东村", ""],
            &["丁", "", "东村", ""],
            &["戊", "37060220140302122", "东村", ""],
            &["己", "370602201403021229", "东村", "特级"],
            &["", "", "", ""],
        ]);
        s.rows.push((
            10,
            vec![
                Cell::Text("庚".into()),
                Cell::Number(370602201403021229.0),
                Cell::Empty,
            ],
        ));
        s.rows.push((11, vec![Cell::Empty, Cell::Empty]));
        let g = guess_header(&s);
        let r = read_rows(&s, g.header_index, &g.map, "2026-05");
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.rows[0].disability_grade, Some(1));
        let got: Vec<(usize, &str)> = r.problems.iter().map(|p| (p.line, p.code)).collect();
        assert_eq!(
            got,
            vec![
                (3, "id_number_as_number"),
                (4, "invalid_id_number"),
                (5, "name_missing"),
                (6, "id_number_missing"),
                (7, "invalid_id_number"),
                (8, "bad_disability_grade"),
                (10, "id_number_as_number"),
            ]
        );
        assert_eq!(r.empty, 2, "trailing empty rows are skipped, not refused");
        for p in &r.problems {
            assert!(p.zh.starts_with(&format!("第 {} 行", p.line)), "{}", p.zh);
        }
        assert!(r.problems[0].zh.contains("科学计数法"));
        assert!(r.problems[1].zh.contains("校验"), "{}", r.problems[1].zh);
    }

    #[test]
    fn id_numbers_are_read_as_people_type_them() {
        let s = grid(&[
            &["姓名", "身份证号", "村居"],
            &["甲", "３７０６０２２０１４０３０２１２２９", "东村"],
            &["乙", " 37060219900101123x ", "东村"],
        ]);
        let g = guess_header(&s);
        let r = read_rows(&s, g.header_index, &g.map, "2026-05");
        let ids: Vec<&str> = r.rows.iter().map(|r| r.id_number.as_str()).collect();
        // The second is valid only if its check digit is X; the test checks the form.
        assert_eq!(ids.first().copied(), Some("370602201403021229"));
        assert!(r
            .rows
            .iter()
            .chain(std::iter::empty())
            .all(|r| !r.id_number.contains('x')));
    }

    #[test]
    fn gb18030_bom_and_crlf_csv_read_the_same_as_utf8() {
        let text =
            "2026年5月低保名单,,\r\n姓名,身份证号,所在村\r\n李小红,370602201403021229,东村\r\n\r\n";
        let utf8 = read_sheet("a.csv", text.as_bytes()).unwrap();
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        let (gbk, _, _) = encoding_rs::GB18030.encode(text);
        for other in [
            read_sheet("a.csv", &bom).unwrap(),
            read_sheet("a.csv", &gbk).unwrap(),
        ] {
            assert_eq!(format!("{:?}", other.rows), format!("{:?}", utf8.rows));
        }
        let g = guess_header(&utf8);
        let r = read_rows(&utf8, g.header_index, &g.map, "2026-05");
        assert_eq!(r.rows.len(), 1);
        assert_eq!(r.rows[0].line, 3);
        assert_eq!(r.rows[0].village.as_deref(), Some("东村"));
        assert_eq!(read_sheet("a.csv", b"  ").unwrap_err().code, "empty_file");
    }

    #[test]
    fn a_file_that_cannot_be_read_at_all_says_why() {
        let code = |name: &str, bytes: &[u8]| read_sheet(name, bytes).unwrap_err().code;
        assert_eq!(
            code("a.xlsx", b"PK\x03\x04 not really a workbook"),
            "unreadable_file"
        );
        assert_eq!(
            code("a.xls", &[0xD0, 0xCF, 0x11, 0xE0, 1, 2, 3]),
            "unreadable_file"
        );
        assert_eq!(code("a.csv", b""), "empty_file");
        // An unclosed quote runs to the end of the file (the csv crate's reading): the
        // line is then refused as a row, with its number.
        let sheet = read_sheet("a.csv", "姓名,身份证号\n\"李,3706\n".as_bytes()).unwrap();
        let g = guess_header(&sheet);
        let mut map = g.map.clone();
        map.insert(Column::Village, 0);
        let r = read_rows(&sheet, g.header_index, &map, "2026-05");
        assert_eq!((r.rows.len(), r.problems[0].line), (0, 2));
        let unreadable = read_sheet("a.xlsx", b"PK\x03\x04 x").unwrap_err();
        assert!(
            unreadable.zh.contains("另存") || unreadable.zh.contains("重新保存"),
            "{}",
            unreadable.zh
        );
    }

    #[test]
    fn a_quoted_line_break_keeps_the_line_numbers_of_the_file() {
        let text = "姓名,身份证号,所在村\r\n\"李\r\n小红\",370602201403021229,东村\r\n王五,370602201403021228,东村\r\n";
        let sheet = read_sheet("a.csv", text.as_bytes()).unwrap();
        let lines: Vec<usize> = sheet.rows.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![1, 2, 4]);
    }

    #[test]
    fn columns_are_named_as_spreadsheets_name_them() {
        for (i, l) in [
            (0, "A"),
            (25, "Z"),
            (26, "AA"),
            (27, "AB"),
            (701, "ZZ"),
            (702, "AAA"),
        ] {
            assert_eq!(column_letter(i), l);
            assert_eq!(column_index(l), Some(i));
        }
        assert_eq!(column_index("3"), Some(2));
        assert_eq!(column_index("c"), Some(2));
        assert_eq!(column_index("0"), None);
        assert_eq!(column_index("身份证"), None);
    }

    #[test]
    fn disability_grades_are_read_in_every_spelling() {
        for (t, g) in [
            ("一级", 1),
            ("2级", 2),
            ("３", 3),
            ("肆级", 4),
            ("二级（重度）", 2),
        ] {
            assert_eq!(disability_grade(t), Some(g), "{t}");
        }
        assert_eq!(disability_grade("特级"), None);
    }
}
