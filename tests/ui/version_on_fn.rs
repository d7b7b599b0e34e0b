use rheoflow::processor::processor;

#[processor(version = 2)]
fn double(x: u32) -> u32 {
    x * 2
}

fn main() {}
