use rheoflow::processor::processor;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Echo;

#[processor]
impl Echo {
    fn process(&mut self, item: u64, out: &mut Vec<u64>) {
        out.push(item);
    }
}

fn main() {}
