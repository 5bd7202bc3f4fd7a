//! Writes the shared authentication and TLS cases into a folder, for the Python, Node and
//! C tests: `auth-fixture DIR` writes `DIR/cases.json` and the files it names, and prints
//! the path of `cases.json`. See `testkit::auth`.

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: auth-fixture DIR");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    testkit::auth::write_cases(&dir);
    println!("{}", dir.join("cases.json").display());
}
