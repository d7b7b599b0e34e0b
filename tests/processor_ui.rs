//! Compile-fail tests of `#[processor]`: one file per mistake in `tests/ui/`, each with the
//! compiler's output it must give. Regenerate the `.stderr` files with `TRYBUILD=overwrite`
//! after a deliberate change to a message, and read each one.

#[test]
fn processor_macro_mistakes() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
