use rheoflow::processor::processor;

#[processor(nmae = "double")]
fn double(x: u32) -> u32 {
    x * 2
}

fn main() {}
