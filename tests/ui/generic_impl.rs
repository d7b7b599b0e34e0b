use rheoflow::processor::{processor, Context};

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Echo<T>(Option<T>);

#[processor]
impl<T: Clone> Echo<T> {
    fn process(&mut self, item: T, ctx: &mut Context<'_, T>) {
        ctx.emit(item);
    }
}

fn main() {}
