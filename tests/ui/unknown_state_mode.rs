use rheoflow::processor::{processor, Context};

#[derive(Clone)]
struct Echo;

#[processor(state = auto)]
impl Echo {
    fn process(&mut self, item: u64, ctx: &mut Context<'_, u64>) {
        ctx.emit(item);
    }
}

fn main() {}
