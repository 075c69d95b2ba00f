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
//! | [`mix::Seat`] (a conference participant) | the call's `Media` | `leave`, the call closes, or the conference closes |
//! | [`mix::Mixer`] (a conference) | shared by its seats and the JS `Conference` | the last of them is dropped |
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
//!   call ([`live_ports`] counts them for leak checks).
//!
//! A conference is a [`mix::Mixer`] with one [`mix::Seat`] per call; see
//! that module for how seats on different shards share it.
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
pub mod mix;
pub mod ogg;
pub mod record;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

static LIVE_PORTS: AtomicUsize = AtomicUsize::new(0);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_port_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

fn port_opened() {
    LIVE_PORTS.fetch_add(1, Ordering::Relaxed);
}

fn port_closed() {
    LIVE_PORTS.fetch_sub(1, Ordering::Relaxed);
}

/// Graph ports alive in the process (two link ends per bridge, one seat per
/// conference participant), for leak checks.
pub fn live_ports() -> usize {
    LIVE_PORTS.load(Ordering::Relaxed)
}

/// Where a call's pipeline meets the rest of the graph: one end of a
/// bridge, or a seat in a conference. A call has at most one.
pub enum Port {
    /// One end of a bridge with another call.
    Link(link::Link),
    /// A seat in a conference.
    Seat(mix::Seat),
}

impl Port {
    /// The port's id (unique in the process).
    pub fn id(&self) -> u64 {
        match self {
            Port::Link(l) => l.id(),
            Port::Seat(s) => s.id(),
        }
    }

    /// True once the other side is gone: detach.
    pub fn is_broken(&self) -> bool {
        match self {
            Port::Link(l) => l.is_broken(),
            Port::Seat(s) => s.is_broken(),
        }
    }

    /// This tick's heard audio (20 ms at `rate`; silence when nothing was heard).
    pub fn push_heard(&mut self, pcm: &[i16], rate: u32) {
        match self {
            Port::Link(l) => l.push_heard(pcm, rate),
            Port::Seat(s) => s.push_heard(pcm, rate),
        }
    }

    /// A received RFC 4733 digit (relayed over a bridge; a conference
    /// does not mix digits).
    pub fn push_dtmf(&mut self, c: char) {
        if let Port::Link(l) = self {
            l.push_dtmf(c);
        }
    }

    /// Append this tick's 20 ms at `out_rate` to `frame`; relayed digits go to `digits`.
    pub fn pull(&mut self, out_rate: u32, frame: &mut Vec<i16>, digits: &mut Vec<char>) {
        match self {
            Port::Link(l) => l.pull(out_rate, frame, digits),
            Port::Seat(s) => s.pull(out_rate, frame),
        }
    }

    /// Play a relayed digit in-band (bridges only).
    pub fn play_inband(&mut self, c: char, rate: u32) {
        if let Port::Link(l) = self {
            l.play_inband(c, rate);
        }
    }
}

#[cfg(test)]
mod tests;
