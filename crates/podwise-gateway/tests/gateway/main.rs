//! The gateway's integration tests: in-process behaviour, then the whole system started
//! by the operator scripts.

mod api_doc;
mod browse;
mod demo;
mod end_to_end;
mod harness;
mod library;
mod limits;
mod objects;
mod openai;
mod ready;
mod recommend;
mod round_trip;
mod speech;
mod system;
mod tts;
mod users;
mod web_ui;
