//! The gRPC contracts between Podwise services, generated from `proto/` at build time.
//!
//! One module per protobuf package; services depend on this crate and never on each
//! other.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

pub mod common {
    pub mod v1 {
        tonic::include_proto!("podwise.common.v1");
    }
}

pub mod llm {
    pub mod v1 {
        tonic::include_proto!("podwise.llm.v1");
    }
}

pub mod stt {
    pub mod v1 {
        tonic::include_proto!("podwise.stt.v1");
    }
}

pub mod tts {
    pub mod v1 {
        tonic::include_proto!("podwise.tts.v1");
    }
}

pub mod rag {
    pub mod v1 {
        tonic::include_proto!("podwise.rag.v1");
    }
}

pub mod ml {
    pub mod v1 {
        tonic::include_proto!("podwise.ml.v1");
    }
}

/// The subset of Milvus's gRPC API the vector store calls (`proto/milvus/`).
pub mod milvus {
    tonic::include_proto!("milvus.proto.milvus");
}
