//! The session: enrolling the phone, choosing and changing the PIN, unlocking and
//! locking, settings and the code lists the screens label things with.

super::device_commands! {
    app_state, enroll, set_pin, unlock, lock, change_pin, keep_alive,
    settings, update_settings, vocabulary,
}
