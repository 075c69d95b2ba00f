//! Media between calls: the graph of sources, sinks and links that connects
//! one call's pipeline to a file, or to another call.
//!
//! ## The model
//!
//! Every call's [`Media`](crate::media::Media) pipeline has one **source**
//! (what it sends: players, then a link, then PCM written by JS, else
//! silence) and its **sinks** (what it hears: JS audio subscribers, a
//! recorder, a link). Each node has exactly one owner:
//!
//! | node | owner | ends when |
//! |---|---|---|
//! | [`record::LegRecorder`] | the call's `Media` | `stopRecording`, or the call closes (the file is finished) |
//! | [`link::Link`] (one end of a bridge) | the call's `Media` | `unbridge`, or either call closes |
//!
//! Nothing is shared by reference between calls: a bridge is two
//! [`link::Link`]s, each owned by one call, joined by two single-producer
//! single-consumer queues of 20 ms frames. That is what lets the two legs
//! live on different I/O threads (shards) without a lock on the media path.
//!
//! ## The cross-call path
//!
//! ```text
//!  shard 1                                   shard 2
//!  call A: RTP -> jitter -> decode ─┐   ┌─ decode <- jitter <- RTP :call B
//!                                   │   │
//!            Link A.out ── SPSC (16 frames) ──> Link B.in  -> B's source -> encode (B's codec)
//!            Link A.in  <── SPSC (16 frames) ── Link B.out
//!       A's source <- Link A.in                                     
//! ```
//!
//! - Each leg pushes exactly one 20 ms frame per tick of its own media clock
//!   (decoded audio, concealment, or silence while nothing arrives or the
//!   leg is on hold), so the two directions stay in step even when packets
//!   are lost; RFC 4733 digits travel in the same queue as items of their own.
//! - Each leg pulls one frame per tick and resamples it to its send codec's
//!   rate: transcoding is decode -> PCM -> encode, so any codec the pipeline
//!   knows (a new one included) bridges to any other with no code here.
//! - The queues are bounded: a full queue drops the newest frame (the far
//!   shard stalled), and a consumer that finds more than [`link::MAX_LAG`]
//!   frames waiting drops the oldest, so the added delay stays under
//!   `MAX_LAG` x 20 ms however the two clocks drift.
//! - A link whose other end was dropped (call closed, unbridged) notices on
//!   its next tick and detaches itself: no native resource outlives either
//!   call ([`link::live_links`] counts them for leak checks).
//!
//! ```
//! use sipwire::graph::link;
//! let (mut a, mut b) = link::pair();
//! a.push_heard(&[1000; 160], 8000);
//! let (mut frame, mut digits) = (Vec::new(), Vec::new());
//! b.pull(8000, &mut frame, &mut digits);
//! assert_eq!(frame, vec![1000; 160]);
//! drop(a);
//! assert!(b.is_broken());
//! ```

pub mod link;
pub mod record;

#[cfg(test)]
mod tests;
