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
    // Only the ABI files: parsing the whole crate would export every public
    // constant (READ, RESET, FLAGS...) into C, where such names collide.
    let sources = [root.join("src/ffi.rs"), root.join("src/api/event.rs")];
    for src in &sources {
        println!("cargo:rerun-if-changed={}", src.display());
    }
    println!("cargo:rerun-if-changed=cbindgen.toml");

    let config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml is readable");
    let header = root.join("include/mpble.h");
    let mut builder = cbindgen::Builder::new().with_config(config);
    for src in &sources {
        builder = builder.with_src(src);
    }
    match builder.generate() {
        Ok(bindings) => {
            bindings.write_to_file(&header);
        }
        Err(e) => panic!("cbindgen failed: {e}"),
    }
}
