use rheoflow::processor::{processor, Context};

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Echo;

#[processor]
impl Echo {
    fn process(&self, item: u64, ctx: &mut Context<'_, u64>) {
        ctx.emit(item);
    }
}

fn main() {}
