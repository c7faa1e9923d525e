//! Chinese labels for fields and problems, used in error messages.

/// The Chinese name of a field, for messages. Unknown names are returned as they are.
pub fn field_label_zh(field: &str) -> &str {
    match field {
        "name" => "姓名",
        "sex" => "性别",
        "birth_date" => "出生日期",
        "id_number" => "身份证号",
        "village_code" => "所在村居",
        "categories" => "儿童类别",
        "risk_colour" => "风险等级",
        "status" => "状态",
        "visited_at" => "走访时间",
        "mode" => "走访方式",
        "checklist" => "走访检查项",
        other => other,
    }
}

/// A rough Chinese rendering of a schema problem sentence.
pub fn problem_zh(problem: &str) -> String {
    if problem.starts_with("unknown code") {
        format!("不是可选的值（{problem}）")
    } else if problem == "may not be empty" {
        "不能为空".into()
    } else if problem.starts_with("expected a date") {
        "日期格式应为 年-月-日，例如 2026-05-01".into()
    } else if problem.starts_with("longer than") {
        format!("内容太长（{problem}）")
    } else {
        format!("格式不对（{problem}）")
    }
}
