// The desktop binary: everything is in the library, which Android and iOS load too.
// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    tonghu_app_lib::run()
}
