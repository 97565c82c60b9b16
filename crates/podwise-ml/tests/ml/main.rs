//! The recommender's tests: the model trained in memory on a world with planted
//! structure, and the service started in-process on a free port as its binary would.

mod model;
mod service;
mod world;
