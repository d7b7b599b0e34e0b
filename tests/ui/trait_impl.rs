use rheoflow::processor::{processor, Context, Processor};

struct Echo;

#[processor]
impl Processor for Echo {
    type In = u64;
    type Out = u64;

    fn process(&mut self, item: u64, ctx: &mut Context<'_, u64>) {
        ctx.emit(item);
    }
}

fn main() {}
