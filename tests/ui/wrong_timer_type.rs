use rheoflow::processor::{processor, Context};

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Echo;

#[processor]
impl Echo {
    fn process(&mut self, item: u64, ctx: &mut Context<'_, u64>) {
        ctx.emit(item);
    }

    fn on_timer(&mut self, timer: u64, ctx: &mut Context<'_, u64>) {
        ctx.emit(timer);
    }
}

fn main() {}
