//! One language at a time in the console: Chinese (zh-CN) by default, English when the
//! person chose it (the `tonghu_lang` cookie, set by the switch in every page's header
//! and on the login pages). Never both on one label.
//!
//! For page authors:
//! - every page struct has a field `l: Lang`; a template says `{{ l.t("key") }}` for a
//!   fixed sentence of [`MESSAGES`] and `{{ l.code(x) }}`, `{{ l.field(f) }}`,
//!   `{{ l.table(t) }}`, `{{ l.codes(list) }}` for the domain's codes and names;
//! - a handler gets the language with the [`Lang`] extractor (or `PageViewer`'s) and
//!   builds sentences with numbers in both languages as a [`Said`], which a template
//!   shows with `{{ s.in_(l) }}`; errors (`ConsoleError::BadInput`, `PageError`) carry
//!   both sentences and are shown in the reader's language;
//! - a new key goes into [`MESSAGES`] with its Chinese and its English; a test fails
//!   when a template or a handler uses a key that is not there, when a Chinese entry
//!   has no Chinese in it or an English entry has Chinese in it.

use serde::Serialize;

/// The cookie that holds the chosen language (`zh` or `en`).
pub const LANG_COOKIE: &str = "tonghu_lang";

/// The language a page is shown in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

/// A sentence made in both languages (it names numbers or names), shown in one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Said {
    pub zh: String,
    pub en: String,
}

impl Said {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Said {
        Said {
            zh: zh.into(),
            en: en.into(),
        }
    }
    /// The sentence in `l`.
    pub fn in_(&self, l: &Lang) -> &str {
        match l {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

impl Lang {
    /// The language a cookie value names (anything else: Chinese).
    pub fn from_cookie(v: Option<&str>) -> Lang {
        match v {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }
    /// The cookie value of this language.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
    /// The `lang` attribute of the page.
    pub fn html(&self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
    /// The language the switch offers.
    pub fn other(&self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
    /// The name of this language in itself (the switch's label).
    pub fn own_name(&self) -> &'static str {
        match self {
            Lang::Zh => "中文",
            Lang::En => "English",
        }
    }
    pub fn is_en(&self) -> bool {
        *self == Lang::En
    }
    /// One of two words, by language.
    pub fn pick<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
    /// A fixed sentence of [`MESSAGES`] (an unknown key is shown as itself; a test
    /// keeps every key used in the templates and the handlers in the table).
    pub fn t(&self, key: &str) -> &'static str {
        match MESSAGES.binary_search_by(|(k, _, _)| (*k).cmp(key)) {
            Ok(i) => match self {
                Lang::Zh => MESSAGES[i].1,
                Lang::En => MESSAGES[i].2,
            },
            Err(_) => {
                debug_assert!(false, "console message {key:?} is not in MESSAGES");
                "?"
            }
        }
    }
    /// The name of a code of the domain's lists (a risk colour, a category, a mode…).
    pub fn code(&self, code: &str) -> String {
        match self {
            Lang::Zh => domain::labels::code_label_zh(code).to_string(),
            Lang::En => domain::labels::code_label_en(code),
        }
    }
    /// Several codes' names, joined.
    pub fn codes(&self, codes: &[String]) -> String {
        codes
            .iter()
            .map(|c| self.code(c))
            .collect::<Vec<_>>()
            .join(self.pick("、", ", "))
    }
    /// Names, joined the way the language lists them.
    pub fn join(&self, names: &[String]) -> String {
        names.join(self.pick("、", ", "))
    }
    /// The name of a record's field.
    pub fn field(&self, field: &str) -> String {
        match self {
            Lang::Zh => domain::labels::field_label_zh(field).to_string(),
            Lang::En => {
                let s = domain::labels::field_label_en(field);
                let mut c = s.chars();
                match c.next() {
                    Some(f) => f.to_uppercase().chain(c).collect(),
                    None => s,
                }
            }
        }
    }
    /// The name of a kind of record.
    pub fn table(&self, table: &str) -> String {
        match self {
            Lang::Zh => domain::labels::table_label_zh(table).to_string(),
            Lang::En => domain::labels::table_label_en(table).to_string(),
        }
    }
    /// A moment (ms since the epoch) as a date and time in the deployment's zone.
    pub fn time(&self, ms: &i64) -> String {
        time(*ms)
    }
    /// A moment that may be missing ("-").
    pub fn time_or_dash(&self, ms: &Option<i64>) -> String {
        ms.map(time).unwrap_or_else(|| "-".into())
    }
    /// A byte count as MB / GB.
    pub fn size(&self, bytes: &u64) -> String {
        let b = *bytes as f64;
        if b >= 1e9 {
            format!("{:.1} GB", b / 1e9)
        } else {
            format!("{:.0} MB", b / 1e6)
        }
    }
    /// An age in seconds as minutes, hours or days.
    pub fn age(&self, secs: &u64) -> String {
        let (n, unit) = match *secs {
            0 => return "-".into(),
            s if s < 3600 => (s / 60, self.pick("分钟", "min")),
            s if s < 86_400 => (s / 3600, self.pick("小时", "h")),
            s => (s / 86_400, self.pick("天", "days")),
        };
        format!("{n} {unit}")
    }
    /// A clock difference in ms as seconds, minutes or days (phone ahead: positive).
    pub fn skew(&self, ms: &Option<i64>) -> String {
        let Some(m) = *ms else { return "-".into() };
        let (n, unit) = if m.abs() < 60_000 {
            (m / 1000, self.pick("秒", "s"))
        } else if m.abs() < 86_400_000 {
            (m / 60_000, self.pick("分钟", "min"))
        } else {
            (m / 86_400_000, self.pick("天", "days"))
        };
        format!("{n} {unit}")
    }
    /// "n days ago" / "today".
    pub fn days_ago(&self, days: &i64) -> String {
        match (*days, self) {
            (0, _) => self.t("state.today").to_string(),
            (d, Lang::Zh) => format!("{d} 天前"),
            (1, Lang::En) => "1 day ago".into(),
            (d, Lang::En) => format!("{d} days ago"),
        }
    }
    /// "n days".
    pub fn days(&self, days: &i64) -> String {
        match (*days, self) {
            (d, Lang::Zh) => format!("{d} 天"),
            (1, Lang::En) => "1 day".into(),
            (d, Lang::En) => format!("{d} days"),
        }
    }
    /// A count of things, e.g. `l.count(3, "条", "record", "records")`.
    pub fn count(&self, n: &u64, zh_unit: &str, en_one: &str, en_many: &str) -> String {
        match self {
            Lang::Zh => format!("{n} {zh_unit}"),
            Lang::En if *n == 1 => format!("1 {en_one}"),
            Lang::En => format!("{n} {en_many}"),
        }
    }
    /// "yes" / "no".
    pub fn yes_no(&self, b: bool) -> &'static str {
        match (self, b) {
            (Lang::Zh, true) => "是",
            (Lang::Zh, false) => "否",
            (Lang::En, true) => "yes",
            (Lang::En, false) => "no",
        }
    }
}

/// A moment (ms since the epoch) as `YYYY-MM-DD HH:MM` in the deployment's zone
/// (`model::clock::zone`), the one zone of every time the console shows or exports.
pub fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&crate::model::clock::zone())
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// Every fixed sentence of the console: (key, Chinese, English), sorted by key (a test
/// checks the order, so lookups are a binary search).
pub static MESSAGES: &[(&str, &str, &str)] = &[
    ("access.action", "操作", "What"),
    ("access.console", "督导台的查看与导出", "Console views and exports"),
    ("access.device_pulls", "督导员和管理员的手机同步", "Supervisor and admin phone syncs"),
    ("access.subject", "对象", "Of what"),
    ("access.title", "访问日志", "Access log"),
    ("access.village", "村（社区）", "Village"),
    ("access.when", "时间", "When"),
    ("access.who", "谁", "Who"),
    ("action.accept_quarantine", "接收隔离区记录", "accepted a quarantine"),
    ("action.care_standard_set", "修改保障标准", "changed a monthly standard"),
    ("action.confirmation_decide", "县级确认或退回", "confirmed or sent back a child"),
    ("action.confirmation_queue", "查看县级确认", "viewed the confirmation queue"),
    ("action.discovery_add_list_kind", "添加名单种类", "added a list kind"),
    ("action.discovery_assign", "分配发现到村居", "assigned a finding to a village"),
    ("action.discovery_export", "导出主动发现结果", "exported active discovery"),
    ("action.discovery_history", "查看主动发现进度", "viewed active discovery"),
    ("action.discovery_import", "导入名单", "imported a list"),
    ("action.discovery_preview", "预览名单", "previewed a list"),
    ("action.discovery_queue", "查看待分配队列", "viewed the queue"),
    ("action.discovery_tasks", "查看各村任务", "viewed open tasks"),
    ("action.export", "导出", "exported"),
    ("action.import_roster", "导入名册", "imported the roster"),
    ("action.issue_enroll_code", "生成手机登记码", "issued a phone enrollment code"),
    ("action.issue_login_code", "生成登录码", "issued a login code"),
    ("action.pull", "手机同步", "phone sync"),
    ("action.rename_account", "修改姓名", "changed a name"),
    ("action.revoke_device", "停用手机", "revoked a phone"),
    ("action.view_access_log", "查看访问日志", "viewed the access log"),
    ("action.view_accounts", "查看账号与手机", "viewed accounts and phones"),
    ("action.view_agreement", "查看委托照护协议", "viewed a care agreement"),
    ("action.view_child", "查看儿童档案", "viewed a child's file"),
    ("action.view_director", "查看儿童主任", "viewed a child director"),
    ("action.view_overview", "查看概况", "viewed an overview"),
    ("action.view_photo", "查看照片", "viewed a photo"),
    ("action.view_quarantine", "查看隔离区", "viewed a quarantine"),
    ("admin.account", "账号", "Account"),
    ("admin.accounts", "账号", "Accounts"),
    ("admin.area", "地区", "Area"),
    ("admin.device_state", "状态", "State"),
    ("admin.enrolled", "登记时间", "Enrolled"),
    ("admin.import", "导入", "Import"),
    ("admin.import_roster", "导入名册", "Import the roster"),
    ("admin.import_roster_hint", "CSV 文件，列为 kind,code,name,parent", "A CSV file with the columns kind,code,name,parent"),
    ("admin.last_seen", "最近联系", "Last contact"),
    ("admin.login_code", "登录码", "Login code"),
    ("admin.name", "姓名", "Name"),
    ("admin.no_phone", "没有登记手机", "No phone enrolled"),
    ("admin.pending", "未上传", "Not yet sent"),
    ("admin.phone", "手机", "Phone"),
    ("admin.phone_code", "手机登记码", "Phone code"),
    ("admin.phones", "手机", "Phones"),
    ("admin.phones_by_person", "每人一行，名下的手机列在其中", "One line per person, their phones inside"),
    ("admin.rename", "改名", "Rename"),
    ("admin.role", "角色", "Role"),
    ("admin.title", "账号与手机", "Accounts and phones"),
    ("agreement.check_ok", "协议文本与签名时的指纹一致。", "The text is the one that was signed."),
    ("agreement.fingerprint", "协议指纹", "Fingerprint of the text"),
    ("agreement.hash_mismatch", "协议文本与签名时的指纹不一致！", "The text does not match the one that was signed!"),
    ("agreement.period", "期限", "Period"),
    ("agreement.print", "打印", "Print"),
    ("agreement.signatures", "签名", "Signatures"),
    ("agreement.signed_at", "签署时间", "Signed at"),
    ("agreement.title", "委托照护协议", "Care agreement"),
    ("agreement.version", "版本", "Version"),
    ("agreement.view_print", "查看 / 打印", "View / print"),
    ("agreement.voided", "此版本已作废。", "This version was voided."),
    ("app.version", "版本", "App version"),
    ("area.by_county", "按区市（最需关注的在前）", "By county, worst first"),
    ("area.by_township", "按镇街（最需关注的在前）", "By township, worst first"),
    ("area.city_overview", "全市概况", "City overview"),
    ("area.county", "区市", "County"),
    ("area.county_overview", "区市概况", "County overview"),
    ("area.township", "镇街", "Township"),
    ("chart.last_sync", "手机最近同步", "Last successful sync of the phones"),
    ("chart.visits_per_week", "每周走访", "Visits per week"),
    ("child.back", "返回", "Back"),
    ("child.file", "一人一档", "Child's file"),
    ("child.masked_note", "身份证号已隐去中间位；本次查看已记入访问日志。", "ID numbers are masked; this view is written to the access log."),
    ("child.no_photos", "没有照片", "No photos"),
    ("child.photos", "走访照片", "Visit photos"),
    ("child.signed_agreements", "委托照护协议", "Signed care agreements"),
    ("col.categories", "类别", "Categories"),
    ("col.child", "儿童", "Child"),
    ("col.children", "儿童", "Children"),
    ("col.clock_skew", "时钟偏差", "Clock skew"),
    ("col.days_overdue", "逾期天数", "Days overdue"),
    ("col.director", "儿童主任", "Child director"),
    ("col.directors", "儿童主任", "Child directors"),
    ("col.due", "应访日期", "Due"),
    ("col.expiring", "协议将到期", "Agreement ending"),
    ("col.feedback_due", "反馈期限", "Feedback due"),
    ("col.free", "剩余空间", "Free space"),
    ("col.kind", "类型", "Kind"),
    ("col.last_sync", "最近同步", "Last sync"),
    ("col.last_visit", "上次走访", "Last visit"),
    ("col.late", "逾期", "Late"),
    ("col.no_agreement", "缺协议", "No agreement"),
    ("col.oldest_unsent", "最久未传", "Oldest unsent"),
    ("col.overdue", "逾期未访", "Overdue"),
    ("col.pending", "待传", "Waiting to send"),
    ("col.phone", "手机", "Phone"),
    ("col.red", "红", "Red"),
    ("col.referrals_late", "转介逾期", "Referrals late"),
    ("col.rejected", "被拒", "Refused"),
    ("col.reports_late", "强制报告逾期", "Reports late"),
    ("col.risk", "风险", "Risk"),
    ("col.stale_silent", "滞后/失联手机", "Phones behind / silent"),
    ("col.state", "状态", "State"),
    ("col.village", "村（社区）", "Village"),
    ("col.villages", "村（社区）", "Villages"),
    ("col.visited_unsynced", "已访未同步", "Visited, not synced"),
    ("col.yellow", "黄", "Yellow"),
    ("console.brand", "童护 督导台", "Tonghu supervisor console"),
    ("console.title", "童护 督导台", "Tonghu console"),
    ("director.children_by_due", "儿童（按应访日期）", "Children, by due date"),
    ("director.role", "儿童主任", "Child director"),
    ("disc.a_confirmation_records_the_standard", "确认纳入保障时，按确认当天有效的标准记入儿童档案；调整标准请添加一行新的生效日期。", "A confirmation records the standard in force on its day; to change a standard add a line with its start date."),
    ("disc.active_discovery", "主动发现", "Active discovery"),
    ("disc.add", "添加", "Add"),
    ("disc.add_a_list_kind_of_your_own", "添加本区市的名单种类", "Add a list kind of your own"),
    ("disc.address_in_the_file", "文件中的地址", "Address in the file"),
    ("disc.age_days", "已过天数", "Age (days)"),
    ("disc.and", "另有", "and"),
    ("disc.assign", "分配", "Assign"),
    ("disc.assign_to_a_village", "分配到村居", "Assign to a village"),
    ("disc.assigned_the_task_goes_to_that", "已分配，任务已发送到该村居的儿童主任手机。", "Assigned: the task goes to that village's director."),
    ("disc.awaiting", "待确认", "Awaiting"),
    ("disc.cancel", "取消", "Cancel"),
    ("disc.categories", "类别", "Categories"),
    ("disc.category", "儿童类别", "Category"),
    ("disc.checked", "已核查", "Checked"),
    ("disc.child", "儿童", "Child"),
    ("disc.choose_the_list_file_to_import_xlsx", "请选择要导入的名单文件（XLSX、XLS 或 CSV）。", "Choose the list file to import (XLSX, XLS or CSV)."),
    ("disc.code", "代码", "Code"),
    ("disc.column_in_the_file", "文件中的列", "Column in the file"),
    ("disc.commit", "确认导入", "Commit"),
    ("disc.compared_with_the_last_imported", "与上次导入的月份比对：", "Compared with the last imported month: "),
    ("disc.confirm", "确认", "Confirm"),
    ("disc.county_confirmation", "县级确认", "County confirmation"),
    ("disc.county_confirmation_additions", "县级确认（增员、变更、减员）", "County confirmation (additions, changes, exits)"),
    ("disc.days_to_check", "核查期限（天）", "Days to check"),
    ("disc.due", "截止日期", "Due"),
    ("disc.duplicate_rows", "重复行", "Duplicate rows"),
    ("disc.each_month_the_allowance_lists_are", "每月把低保、特困、残疾人两补等名单与儿童台账比对：名单上不在台账的未成年人、监护人在名单上的儿童，会作为任务发到所在村儿童主任的手机上。", "Each month the allowance lists are matched against the roster: minors on a list who are not on the roster, and children whose guardian is on a list, become tasks on their village director's phone."),
    ("disc.export_xlsx", "导出 XLSX", "Export XLSX"),
    ("disc.file_xlsx_xls_or_csv", "文件（XLSX、XLS 或 CSV）", "File (XLSX, XLS or CSV)"),
    ("disc.findings", "发现", "Findings"),
    ("disc.findings_waiting_for_a_village", "待分配村居的发现", "Findings waiting for a village"),
    ("disc.from", "生效日期", "From"),
    ("disc.id_number", "身份证号", "ID number"),
    ("disc.import_a_list", "导入名单", "Import a list"),
    ("disc.import_and_progress", "导入与进度", "Import and progress"),
    ("disc.import_report", "导入结果", "Import report"),
    ("disc.imported", "导入完成", "Imported"),
    ("disc.imports", "导入次数", "Imports"),
    ("disc.in_care_since", "纳入保障日期", "In care since"),
    ("disc.invalid_rows", "无效行", "Invalid rows"),
    ("disc.item", "项目", "Item"),
    ("disc.kind", "类型", "Kind"),
    ("disc.linked", "已关联", "Linked"),
    ("disc.list", "名单", "List"),
    ("disc.list_kind_added", "已添加名单：", "List kind added:"),
    ("disc.map_the_columns", "指定列", "Map the columns"),
    ("disc.minors", "未成年人", "Minors"),
    ("disc.month", "月份", "Month"),
    ("disc.monthly_living_allowance_standards", "基本生活保障标准（元/月）", "Monthly living allowance standards (yuan)"),
    ("disc.monthly_standards", "保障标准", "Monthly standards"),
    ("disc.more_not_listed_the_export_has_them", "条未列出（导出可见全部）", "more not listed (the export has them all)"),
    ("disc.name", "名称", "Name"),
    ("disc.name_2", "姓名", "Name"),
    ("disc.new", "新", "new"),
    ("disc.new_in_the_county_s_queue", "新进入待分配队列", "new in the county's queue"),
    ("disc.new_in_the_queue", "新进入待分配队列", "New in the queue"),
    ("disc.new_tasks", "新任务", "New tasks"),
    ("disc.new_tasks_written", "已写入新任务", "New tasks written"),
    ("disc.no_findings", "没有发现", "No findings"),
    ("disc.no_list_imported_yet", "还没有导入过名单", "No list imported yet"),
    ("disc.no_open_tasks", "没有未办结的任务", "No open tasks"),
    ("disc.none", "（无）", "(none)"),
    ("disc.not_eligible", "不符合条件", "Not eligible"),
    ("disc.not_found_moved", "查无/迁出", "Not found / moved"),
    ("disc.nothing_awaits_confirmation", "没有待确认的儿童", "Nothing awaits confirmation"),
    ("disc.oldest_open_days", "最久未办（天）", "Oldest open (days)"),
    ("disc.on_the_roster_incl_guardians", "已在台账（含监护人）", "On the roster (incl. guardians)"),
    ("disc.open_tasks_by_village", "各村待核查任务", "Open tasks by village"),
    ("disc.preview", "预览", "Preview"),
    ("disc.queue_no_village", "待分配村居", "Queue: no village"),
    ("disc.queued", "待分配村居", "Queued"),
    ("disc.reason", "退回原因", "Reason"),
    ("disc.registered", "已登记", "Registered"),
    ("disc.registered_2", "登记日期", "Registered"),
    ("disc.rows_read", "读取行数", "Rows read"),
    ("disc.rows_to_look_at", "需要注意的行", "Rows to look at"),
    ("disc.save", "保存", "Save"),
    ("disc.send_back", "退回", "Send back"),
    ("disc.some_headers_were_not_recognised", "有些表头无法自动识别。请为标 * 的项选择对应的列（身份证号、姓名，以及所在村或户籍地址至少一项）。", "Some headers were not recognised. Choose the column of each item marked * (ID number, name, and the village or the address)."),
    ("disc.state", "状态", "State"),
    ("disc.status", "状态", "Status"),
    ("disc.still_open", "未办结", "Still open"),
    ("disc.task_exists", "已有任务", "task exists"),
    ("disc.the_date_brought_into_care_is_yyyy", "纳入保障日期格式应为 年-月-日", "The date brought into care is YYYY-MM-DD"),
    ("disc.the_file_is_read_in_memory_and_never", "上传的文件只在内存中读取，不会保存；只保存任务需要的内容。", "The file is read in memory and never kept; only what a task needs is stored."),
    ("disc.the_first_import_of_this_list_no", "这是该名单第一次导入，不做与上月的比对。", "The first import of this list: no comparison with an earlier month."),
    ("disc.the_form_was_incomplete_go_back_and", "表单内容不完整，请返回重试。", "The form was incomplete; go back and try again."),
    ("disc.the_loop_month_by_month", "各月核查进度", "The loop, month by month"),
    ("disc.the_queue_is_empty", "队列是空的", "The queue is empty"),
    ("disc.to_be_assigned", "待分配村居", "to be assigned"),
    ("disc.village", "村居", "Village"),
    ("disc.what", "内容", "What"),
    ("disc.what_a_match_means_and_what_the", "名单上的人意味着什么、儿童主任要核查什么", "What a match means and what the director checks"),
    ("disc.which_column_holds_what", "指定各项在哪一列", "Which column holds what"),
    ("disc.without_a_usable_village", "无法确定村居", "Without a usable village"),
    ("disc.write_when_it_looks_right_new_tasks", "确认无误后写入：新任务会发送到所在村儿童主任的手机；已有任务不会重复，也不会改动儿童主任已办结的任务。", "Write when it looks right: new tasks go to their village director's phone; existing tasks are neither repeated nor touched."),
    ("disc.yuan_month", "元/月", "Yuan / month"),
    ("error.back_overview", "返回概况", "Back to the overview"),
    ("error.log_in", "登录", "Log in"),
    ("export.failed", "导出失败。", "The export failed."),
    ("export.label", "导出", "Export"),
    ("export.overdue", "逾期名单", "Overdue list"),
    ("export.overview", "概况", "Overview"),
    ("fig.agreement_missing", "缺委托照护协议", "Agreement missing"),
    ("fig.agreements_expiring", "30 天内到期", "Ending within 30 days"),
    ("fig.blue", "蓝色", "Blue"),
    ("fig.children", "在册儿童", "Children"),
    ("fig.directors", "儿童主任", "Child directors"),
    ("fig.green", "绿色", "Green"),
    ("fig.overdue_not_visited", "逾期未走访", "Overdue, not visited"),
    ("fig.red", "红色风险", "Red risk"),
    ("fig.referrals_late", "转介逾期未反馈", "Referrals late"),
    ("fig.reports_late", "强制报告逾期", "Mandatory reports late"),
    ("fig.silent_phones", "失联手机", "Silent phones"),
    ("fig.visited_unsynced", "已走访未同步", "Visited, not synced"),
    ("fig.yellow", "黄色", "Yellow"),
    ("lang.switch", "切换语言", "Language"),
    ("login.code", "一次性登录码", "One-time code"),
    ("login.first", "首次登录（使用一次性登录码）", "First login with a one-time code"),
    ("login.first_hint", "首次登录：输入管理员给您的一次性登录码，并设置自己的密码。", "First login: the one-time code from your admin, then a password of your own."),
    ("login.for", "儿童督导员与民政管理员登录", "For township supervisors and civil-affairs admins"),
    ("login.login", "账号", "Login"),
    ("login.new_password", "新密码（至少 10 个字符）", "New password (10 characters or more)"),
    ("login.password", "密码", "Password"),
    ("login.repeat", "再输入一次", "Repeat the new password"),
    ("login.set_and_log_in", "设置密码并登录", "Set the password and log in"),
    ("login.submit", "登录", "Log in"),
    ("nav.access_log", "访问日志", "Access log"),
    ("nav.admin", "账号与手机", "Accounts and phones"),
    ("nav.discovery", "主动发现", "Active discovery"),
    ("nav.log_out", "退出", "Log out"),
    ("nav.overview", "概况", "Overview"),
    ("none", "无", "None"),
    ("overview.agreements", "留守儿童委托照护协议：缺失、已过期、30 天内到期", "Care agreements of left-behind children: missing, expired, ending within 30 days"),
    ("overview.by_category", "儿童类别", "Children by category"),
    ("overview.directors", "儿童主任（最需关注的在前）", "Child directors, worst first"),
    ("overview.late_referrals", "逾期未反馈的转介和强制报告", "Referrals and mandatory reports past their feedback date"),
    ("overview.no_overdue", "没有逾期的走访。", "No overdue visits."),
    ("overview.overdue", "逾期走访：先列未走访的，再列已在手机上走访但尚未同步的", "Overdue visits: not visited first, then visited on the phone but not yet synced"),
    ("overview.township", "镇街概况", "Township overview"),
    ("quarantine.accept", "接收这些记录", "Accept these records"),
    ("quarantine.hint", "停用的手机在清除本机数据前交出的未上传记录。核对后可接收（按正常同步规则入库）。", "Unsent records the revoked phone handed over before wiping itself. After review, accept them (the usual sync rules apply)."),
    ("quarantine.received", "收到时间", "Received"),
    ("quarantine.record", "记录", "Record"),
    ("quarantine.title", "隔离区", "Quarantine"),
    ("quarantine.values", "内容", "Contents"),
    ("revoke.button", "停用（手机丢失）", "Revoke (lost phone)"),
    ("revoke.cancel", "取消", "Cancel"),
    ("revoke.confirm", "确认停用这部手机", "Revoke this phone"),
    ("revoke.title", "停用手机", "Revoke a phone"),
    ("state.active", "在用", "In use"),
    ("state.never", "从未", "Never"),
    ("state.no_phone", "无手机", "No phone"),
    ("state.not_visited", "未走访", "Not visited"),
    ("state.ok", "正常", "OK"),
    ("state.overdue_many", "多数逾期", "Mostly overdue"),
    ("state.revoked", "已停用", "Revoked"),
    ("state.silent", "失联", "Silent"),
    ("state.stale", "滞后", "Behind"),
    ("state.today", "今天", "Today"),
    ("state.visited_unsynced", "已走访，未同步", "Visited, not synced"),
    ("tag.expired", "已过期", "Expired"),
    ("tag.expiring", "即将到期", "Ending soon"),
    ("tag.missing", "缺失", "Missing"),
    ("tag.referral", "转介", "Referral"),
    ("tag.report", "强制报告", "Mandatory report"),
    ("tag.voided", "已作废", "Voided"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn has_cjk(s: &str) -> bool {
        s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    #[test]
    fn the_table_is_sorted_and_each_entry_is_in_its_own_language() {
        for w in MESSAGES.windows(2) {
            assert!(
                w[0].0 < w[1].0,
                "not sorted or repeated: {} / {}",
                w[0].0,
                w[1].0
            );
        }
        for (k, zh, en) in MESSAGES {
            assert!(has_cjk(zh), "{k}: the Chinese has no Chinese: {zh}");
            assert!(!has_cjk(en), "{k}: the English has Chinese in it: {en}");
            assert!(!en.is_empty());
        }
    }

    /// Every `t("…")` in a template or a console handler names a key of the table.
    #[test]
    fn every_key_used_is_in_the_table() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        let mut dirs = vec![root.join("templates"), root.join("src")];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "html" || x == "rs")
                    && !p.ends_with("console/lang.rs")
                {
                    files.push(p);
                }
            }
        }
        let mut used = 0;
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for part in text.split(".t(\"").skip(1) {
                let key = &part[..part.find('"').unwrap()];
                used += 1;
                assert!(
                    MESSAGES.binary_search_by(|(k, _, _)| (*k).cmp(key)).is_ok(),
                    "{}: key {key:?} is not in lang::MESSAGES",
                    f.display()
                );
            }
        }
        assert!(used > 50, "the templates use the table ({used} uses found)");
    }

    #[test]
    fn codes_and_fields_are_named_in_the_chosen_language() {
        assert_eq!(Lang::Zh.code("red"), "红色（立即干预）");
        assert_eq!(Lang::En.code("red"), "red (intervene now)");
        assert_eq!(Lang::En.field("birth_date"), "Birth date");
        assert_eq!(Lang::Zh.field("birth_date"), "出生日期");
        assert_eq!(Lang::from_cookie(Some("en")), Lang::En);
        assert_eq!(Lang::from_cookie(Some("fr")), Lang::Zh);
        assert_eq!(Lang::from_cookie(None), Lang::Zh);
    }
}
