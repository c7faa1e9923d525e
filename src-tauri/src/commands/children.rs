//! The children: today's work, the roster, a child's file (一人一档), registering a
//! child with the guardian's acknowledgement, and the child's guardians.

super::device_commands! {
    home, roster, child_file, add_child, edit_child, delete_child,
    add_guardian, edit_guardian, add_record, consent_notice, sign_consent,
}
