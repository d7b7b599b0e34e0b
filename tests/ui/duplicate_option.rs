use rheoflow::processor::processor;

#[processor(name = "double", name = "twice")]
fn double(x: u32) -> u32 {
    x * 2
}

fn main() {}
