//! Generates `include/mpble.h`, the C ABI the MicroPython port links
//! against, from `src/ffi.rs` (the only file with `extern "C"`).
//!
//! The header is committed so the C side builds without cargo; `make test`
//! fails when the committed copy differs from what this script writes.
use std::env;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let ffi = root.join("src/ffi.rs");
    println!("cargo:rerun-if-changed={}", ffi.display());
    println!("cargo:rerun-if-changed=cbindgen.toml");

    let config = cbindgen::Config::from_file(root.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable");
    let header = root.join("include/mpble.h");
    match cbindgen::Builder::new()
        .with_config(config)
        .with_src(&ffi)
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(&header);
        }
        Err(e) => panic!("cbindgen failed on src/ffi.rs: {e}"),
    }
}
