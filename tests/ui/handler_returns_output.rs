use rheoflow::processor::{processor, Context};

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Echo;

#[processor]
impl Echo {
    fn process(&mut self, item: u64, _ctx: &mut Context<'_, u64>) -> u64 {
        item
    }
}

fn main() {}
