//! Builds the previous release's phone (see `tonghu_tests::previous_release`) and
//! prints where its `fieldctl` is. `scripts/test.sh` runs it before the suite, so the
//! test that needs it does not spend its time limit compiling.

fn main() {
    match tonghu_tests::previous_release::previous_release() {
        Some(p) => println!("{}", p.fieldctl.display()),
        None => std::process::exit(1),
    }
}
