//! What a refusal by the server means to a child director, in one place: for every
//! code the server can send — a change it refused in a push (`Rejection::code`), or a
//! request it refused (`ErrorBody::code`) — a plain Chinese sentence saying what
//! happened and what to do, and the same in English. The device shows these next to
//! the record concerned until the director acts on them; the server's own English
//! message is kept beside it for the supervisor and for support.
//!
//! The codes come from sync-server (`ingest.rs`, `handlers/`, `error.rs`), from the
//! schema check shared with the device (`sync_core::SchemaError::code`) and from
//! `sync_core::wire::codes`. A code this table does not know (a newer server) still
//! gets a sentence and a sensible next step.

use serde::Serialize;

/// A refusal explained for the person holding the phone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RejectionText {
    /// Whether the code is one this version knows.
    pub known: bool,
    /// 发生了什么。
    pub zh: &'static str,
    /// 怎么办。
    pub what_to_do_zh: &'static str,
    /// What happened.
    pub en: &'static str,
    /// What to do.
    pub what_to_do_en: &'static str,
}

const fn text(
    zh: &'static str,
    what_to_do_zh: &'static str,
    en: &'static str,
    what_to_do_en: &'static str,
) -> RejectionText {
    RejectionText {
        known: true,
        zh,
        what_to_do_zh,
        en,
        what_to_do_en,
    }
}

const CALL_SUPPORT_ZH: &str = "记录仍保存在手机上。请联系乡镇督导员或系统管理员，并告知这条提示。";
const CALL_SUPPORT_EN: &str =
    "The record is still kept on this phone. Tell your township supervisor or the system administrator what this message says.";

/// The sentence and the next step for a refusal `code` (see the module documentation).
pub fn explain(code: &str) -> RejectionText {
    match code {
        // --- a change refused in a push (ingest and the schema check)
        "clock_ahead" => text(
            "手机时间比服务器快太多，这条记录暂未上传。",
            "不需要做什么：手机会自动校正时间并重新上传。如果一直出现，请把手机时间设为自动（网络时间）。",
            "The phone's clock is too far ahead of the server's; the record was not sent yet.",
            "Nothing to do: the phone corrects its clock and sends it again. If this keeps happening, set the phone's time to automatic (network time).",
        ),
        "out_of_scope" => text(
            "这条记录属于您没有权限的村居，服务器没有接收。",
            "请核对儿童的所在村居是否填写正确；填错了就改成正确的村居，确实不属于您负责的村居请联系乡镇督导员。记录在处理前会一直保留在手机上。",
            "The record belongs to a village you may not write; the server did not accept it.",
            "Check the child's village: correct it if it is wrong, or ask your township supervisor if the child is not in your villages. The record stays on this phone until you act on it.",
        ),
        "scope_mismatch" => text(
            "这条记录与所属儿童不在同一个村居（儿童可能已迁往其他村居），服务器没有接收。",
            "请先同步，查看儿童现在的所在村居；如儿童已迁出，请联系新村居的儿童主任。",
            "The record and the child it belongs to are not in the same village (the child may have moved); the server did not accept it.",
            "Sync first and check the child's current village; if the child moved away, contact the new village's child director.",
        ),
        "unknown_village" => text(
            "填写的村居代码在系统中不存在，服务器没有接收。",
            "请核对村居代码后重新填写；不清楚代码请问乡镇督导员。",
            "The village code does not exist; the server did not accept the record.",
            "Check the village code and enter it again; ask your township supervisor if unsure.",
        ),
        "write_once" => text(
            "这条记录保存后不能修改（走访、照片、签署的协议只能作废后重新登记），服务器没有接收这次修改。",
            "如内容有误，请把原记录作废并写明原因，再重新登记一条。",
            "This record cannot be changed once saved (visits, photos and signed agreements are voided and recorded again); the server did not accept the change.",
            "If it is wrong, void the record with a reason and record it again.",
        ),
        "server_only" => text(
            "这一项由县（区）民政部门在服务器上填写（例如主动发现任务的核查内容、县级确认结果），手机不能修改，服务器没有接收这次修改。",
            "不需要重新填写：请按任务要求核查后在手机上“办结”任务；对县级确认结果有疑问请联系乡镇督导员。",
            "This item is filled in by the county civil-affairs office on the server (an active-discovery finding, the county's confirmation); a phone may not change it, so the server did not accept the change.",
            "Nothing to re-enter: check the task as it asks and close it on the phone; ask your township supervisor about the county's decision.",
        ),
        "bad_value" => text(
            "这条记录有一项内容不符合要求，服务器没有接收。",
            "请打开这条记录，按提示修改后重新保存；手机会再次上传。",
            "A field of the record does not meet the rules; the server did not accept it.",
            "Open the record, correct it as the message says and save it again; the phone sends it again.",
        ),
        "unknown_table" | "unknown_field" => text(
            "这条记录含有服务器不认识的内容，可能是应用版本与服务器不一致。",
            "请把应用升级到最新版本后再同步；仍有问题请联系系统管理员。",
            "The record contains something the server does not know; the app and the server versions may differ.",
            "Update the app to the latest version and sync again; contact the system administrator if it persists.",
        ),
        "op_id_conflict" | "wrong_device" | "bad_device_seq" | "seq_reused" | "device_seq_reused" => text(
            "这条记录的上传编号与服务器已有的记录冲突，服务器没有接收。",
            CALL_SUPPORT_ZH,
            "The record's upload number conflicts with what the server already holds; the server did not accept it.",
            CALL_SUPPORT_EN,
        ),
        // --- a request refused (the whole sync or enrollment)
        "device_revoked" => text(
            "这部手机已被停用（例如报告丢失），本机数据已清除。",
            "请联系乡镇督导员重新登记手机。",
            "This phone was revoked (reported lost, for example); its data has been wiped.",
            "Ask your township supervisor to enroll the phone again.",
        ),
        "unauthorized" => text(
            "手机尚未登记，或登记已失效。",
            "请向乡镇督导员索取新的登记码，重新登记手机。",
            "The phone is not enrolled, or its enrollment is no longer valid.",
            "Ask your township supervisor for a new enrollment code and enroll the phone again.",
        ),
        "invalid_code" => text(
            "登记码不正确。",
            "请核对登记码（注意区分数字和字母）后重新输入。",
            "The enrollment code is not valid.",
            "Check the code (digits and letters) and enter it again.",
        ),
        "code_used" => text(
            "这个登记码已经用过了。",
            "每个登记码只能用一次，请向乡镇督导员索取新的登记码。",
            "This enrollment code has already been used.",
            "A code works once; ask your township supervisor for a new one.",
        ),
        "code_expired" => text(
            "登记码已过期。",
            "请向乡镇督导员索取新的登记码。",
            "The enrollment code has expired.",
            "Ask your township supervisor for a new code.",
        ),
        "device_exists" => text(
            "这部手机已经登记过了。",
            "不需要重新登记，直接同步即可；如需换人使用，请联系乡镇督导员。",
            "This phone is already enrolled.",
            "No need to enroll again, just sync; to hand it to someone else, ask your township supervisor.",
        ),
        "protocol_version" => text(
            "应用版本太旧，服务器已不支持。",
            "请把应用升级到最新版本后再同步。数据都保存在手机上。",
            "The app is too old for the server.",
            "Update the app to the latest version and sync again. Your data is kept on the phone.",
        ),
        "not_found" => text(
            "服务器上找不到要同步的内容（例如照片尚未上传）。",
            "稍后再同步一次；仍有问题请联系系统管理员。",
            "The server does not have what was asked for (a photo not uploaded yet, for example).",
            "Sync again later; contact the system administrator if it persists.",
        ),
        "storage_unavailable" => text(
            "服务器暂时无法保存数据。",
            "数据已安全保存在手机上，稍后会自动重试，不需要做什么。",
            "The server cannot store data at the moment.",
            "Your data is safe on the phone and is sent again later by itself; nothing to do.",
        ),
        "offset_mismatch" | "bad_chunk" => text(
            "照片上传中断，服务器收到的部分与手机不一致。",
            "不需要做什么：下次同步会从中断处继续上传。",
            "A photo upload was interrupted and the parts do not line up.",
            "Nothing to do: the next sync continues the upload where it stopped.",
        ),
        "hash_mismatch" => text(
            "照片在上传途中损坏，服务器没有接收。",
            "不需要做什么：下次同步会重新上传；如一直失败，请联系系统管理员。",
            "A photo was damaged on the way; the server did not accept it.",
            "Nothing to do: the next sync uploads it again; contact the system administrator if it keeps failing.",
        ),
        "bad_blob_name" => text(
            "照片的文件指纹不正确，服务器没有接收。",
            CALL_SUPPORT_ZH,
            "The photo's fingerprint is not valid; the server did not accept it.",
            CALL_SUPPORT_EN,
        ),
        "blob_too_large" => text(
            "照片文件太大，服务器没有接收。",
            "请把这张照片作废，重新拍摄一张；仍有问题请联系系统管理员。",
            "The photo file is too large for the server.",
            "Void the photo and take it again; contact the system administrator if it persists.",
        ),
        "body_too_large" | "batch_too_large" => text(
            "一次上传的数据太多，服务器没有接收。",
            "不需要做什么：手机会分批重新上传；如一直出现，请联系系统管理员。",
            "Too much data in one upload; the server did not accept it.",
            "Nothing to do: the phone sends it again in smaller parts; contact the system administrator if it keeps happening.",
        ),
        "timeout" => text(
            "服务器这次没有及时回应（可能是网络慢或服务器忙）。",
            "数据都保存在手机上，手机会自动再试，不需要做什么；网络好一些时也可以点“立即同步”。",
            "The server did not answer in time (a slow network or a busy server).",
            "Your data is kept on the phone and sent again by itself; nothing to do, or tap \"Sync now\" when the signal is better.",
        ),
        "internal" => text(
            "服务器内部出错，这次同步没有完成。",
            "数据都保存在手机上，手机会自动再试，不需要做什么；如一直出现，请联系系统管理员。",
            "Something failed inside the server; this sync did not finish.",
            "Your data is kept on the phone and sent again by itself; contact the system administrator if it keeps happening.",
        ),
        "bad_cursor" => text(
            "手机记录的同步位置与服务器对不上。",
            "请把应用升级到最新版本后再同步；仍有问题请联系系统管理员。数据都保存在手机上。",
            "The phone's place in the server's change list is not one the server knows.",
            "Update the app to the latest version and sync again; contact the system administrator if it persists. Your data is kept on the phone.",
        ),
        "bad_body" | "malformed_json" | "method_not_allowed" | "unsupported_media_type"
        | "bad_query" | "bad_path" => text(
            "服务器无法读懂手机发来的数据。",
            "请把应用升级到最新版本后再同步；仍有问题请联系系统管理员。",
            "The server could not read what the phone sent.",
            "Update the app to the latest version and sync again; contact the system administrator if it persists.",
        ),
        _ => RejectionText {
            known: false,
            zh: "服务器没有接收这条记录。",
            what_to_do_zh: CALL_SUPPORT_ZH,
            en: "The server did not accept this record.",
            what_to_do_en: CALL_SUPPORT_EN,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_check_s_codes_are_explained() {
        let errors = [
            sync_core::SchemaError::UnknownTable("x".into()),
            sync_core::SchemaError::UnknownField {
                table: "child".into(),
                field: "x".into(),
            },
            sync_core::SchemaError::BadValue {
                table: "child".into(),
                field: "x".into(),
                problem: "x".into(),
            },
            sync_core::SchemaError::WriteOnce {
                table: "visit".into(),
                field: "x".into(),
            },
        ];
        for e in errors {
            assert!(explain(e.code()).known, "{}", e.code());
        }
        for code in [
            sync_core::wire::codes::CLOCK_AHEAD,
            sync_core::wire::codes::OUT_OF_SCOPE,
            sync_core::wire::codes::OP_ID_CONFLICT,
            sync_core::wire::codes::DEVICE_REVOKED,
        ] {
            assert!(explain(code).known, "{code}");
        }
    }

    #[test]
    fn every_code_the_server_can_send_has_its_own_sentence() {
        let codes = sync_core::wire::codes::REJECTION_CODES
            .iter()
            .chain(sync_core::wire::codes::REQUEST_CODES);
        for code in codes {
            let t = explain(code);
            assert!(t.known, "{code} has no sentence");
            assert!(!t.zh.is_empty() && !t.what_to_do_zh.is_empty(), "{code}");
            assert!(!t.en.is_empty() && !t.what_to_do_en.is_empty(), "{code}");
        }
        assert!(!explain("a_code_from_a_newer_server").known);
    }
}
