use rheoflow::processor::{processor, Context};

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Echo;

#[processor]
impl Echo {
    fn process(&mut self, item: u64, ctx: &mut Context<'_, u64>) {
        ctx.emit(item);
    }

    fn close(&mut self, ctx: &mut Context<'_, u64>, last: u64) {
        ctx.emit(last);
    }
}

fn main() {}
