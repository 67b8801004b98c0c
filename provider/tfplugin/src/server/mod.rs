//! (filled in below)
pub struct ServeOptions;
pub fn serve() {}
