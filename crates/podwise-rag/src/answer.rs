//! Answers from the library: [`ask`] runs a question through [`classify`], retrieval
//! (crate::search), the confidence gate and [`compose`], with [`citations`] for every
//! passage it rests on and the exchange kept in [`history`]; [`summary`] handles
//! "summarise this episode".

pub mod ask;
pub mod citations;
pub mod classify;
pub mod compose;
pub mod history;
pub mod summary;
