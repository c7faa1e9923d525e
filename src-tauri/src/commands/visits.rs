//! Visits: the photos staged for one, recording and voiding it, the form's draft kept
//! as it is typed, and referrals.

super::device_commands! {
    stage_photo, discard_photo, photo, record_visit, void_visit,
    save_draft, get_draft, discard_draft, add_referral, close_referral,
}
