//! Generates `include/mpble.h`, the C ABI the MicroPython port links
//! against, from the crate: `src/ffi.rs` holds every `extern "C"` function
//! and `src/api/event.rs` the `#[repr(C)]` types they pass.
//!
//! The header is committed so the C side builds without cargo; `make test`
//! fails when the committed copy differs from what this script writes.
use std::env;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    let config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml is readable");
    let header = root.join("include/mpble.h");
    match cbindgen::Builder::new()
        .with_config(config)
        .with_crate(&root)
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(&header);
        }
        Err(e) => panic!("cbindgen failed: {e}"),
    }
}
