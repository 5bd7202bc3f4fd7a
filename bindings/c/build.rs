//! Gives the shared library the SONAME it is installed under (scripts/build-c copies
//! libdagnats_observe_c.so to libdagnats_observe.so.0 and links libdagnats_observe.so to it),
//! so programs linked with `-ldagnats_observe` record `libdagnats_observe.so.0`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" || target_os == "android" || target_os.ends_with("bsd") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libdagnats_observe.so.0");
    }
}
