//! RTP sequence-number and timestamp unwrapping.
//!
//! RTP carries 16-bit sequence numbers and 32-bit timestamps that wrap around.
//! These helpers extend them to monotonic 64-bit values (RFC 3550 A.1 style),
//! tolerating reordering: a value is interpreted as the extended value closest
//! to the last one seen.

/// Extends 16-bit RTP sequence numbers to 64-bit values.
///
/// The first value seen is mapped into a "cycle" offset of `1 << 16` so that
/// slightly older (reordered) packets before it never underflow.
#[derive(Clone, Debug, Default)]
pub struct SeqUnwrapper {
    last: Option<u64>,
}

impl SeqUnwrapper {
    /// Creates an unwrapper that has seen nothing yet.
    pub fn new() -> Self {
        Self { last: None }
    }

    /// Returns the extended value for `seq`, updating the reference point if
    /// `seq` is newer than anything seen before.
    pub fn unwrap(&mut self, seq: u16) -> u64 {
        let ext = self.peek(seq);
        if self.last.is_none_or(|l| ext > l) {
            self.last = Some(ext);
        }
        ext
    }

    /// Returns the extended value for `seq` without updating state.
    pub fn peek(&self, seq: u16) -> u64 {
        match self.last {
            None => (1u64 << 16) + u64::from(seq),
            Some(last) => {
                let delta = seq.wrapping_sub(last as u16) as i16;
                (last as i64 + i64::from(delta)).max(0) as u64
            }
        }
    }

    /// The highest extended value seen so far.
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// Forgets all state (e.g. on SSRC change).
    pub fn reset(&mut self) {
        self.last = None;
    }
}

/// Extends 32-bit RTP timestamps to 64-bit values.
///
/// Works like [`SeqUnwrapper`]: the first value seen is offset by `1 << 32`.
#[derive(Clone, Debug, Default)]
pub struct TsUnwrapper {
    last: Option<u64>,
}

impl TsUnwrapper {
    /// Creates an unwrapper that has seen nothing yet.
    pub fn new() -> Self {
        Self { last: None }
    }

    /// Returns the extended value for `ts`, updating the reference point if
    /// `ts` is newer than anything seen before.
    pub fn unwrap(&mut self, ts: u32) -> u64 {
        let ext = self.peek(ts);
        if self.last.is_none_or(|l| ext > l) {
            self.last = Some(ext);
        }
        ext
    }

    /// Returns the extended value for `ts` without updating state.
    pub fn peek(&self, ts: u32) -> u64 {
        match self.last {
            None => (1u64 << 32) + u64::from(ts),
            Some(last) => {
                let delta = ts.wrapping_sub(last as u32) as i32;
                (last as i64 + i64::from(delta)).max(0) as u64
            }
        }
    }

    /// The highest extended value seen so far.
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// Forgets all state (e.g. on SSRC change).
    pub fn reset(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_in_order_and_wrap() {
        let mut u = SeqUnwrapper::new();
        let base = u.unwrap(65533);
        assert_eq!(u.unwrap(65534), base + 1);
        assert_eq!(u.unwrap(65535), base + 2);
        assert_eq!(u.unwrap(0), base + 3);
        assert_eq!(u.unwrap(1), base + 4);
        assert_eq!(u.last(), Some(base + 4));
    }

    #[test]
    fn seq_reorder_across_wrap() {
        let mut u = SeqUnwrapper::new();
        let base = u.unwrap(65535);
        assert_eq!(u.unwrap(1), base + 2);
        assert_eq!(u.unwrap(0), base + 1); // late packet
        assert_eq!(u.unwrap(65534), base - 1);
        assert_eq!(u.last(), Some(base + 2));
    }

    #[test]
    fn seq_many_wraps() {
        let mut u = SeqUnwrapper::new();
        let base = u.unwrap(0);
        let mut s: u16 = 0;
        for i in 1..=300_000u64 {
            s = s.wrapping_add(1);
            assert_eq!(u.unwrap(s), base + i);
        }
    }

    #[test]
    fn seq_reorder_before_first_never_underflows() {
        let mut u = SeqUnwrapper::new();
        let base = u.unwrap(0);
        assert_eq!(u.unwrap(65535), base - 1);
        assert!(base > 1000);
    }

    #[test]
    fn ts_wrap_and_reorder() {
        let mut u = TsUnwrapper::new();
        let base = u.unwrap(u32::MAX - 159);
        assert_eq!(u.unwrap(0), base + 160);
        assert_eq!(u.unwrap(160), base + 320);
        assert_eq!(u.unwrap(u32::MAX - 159), base); // reordered
        assert_eq!(u.last(), Some(base + 320));
        assert_eq!(u.peek(320), base + 480);
        u.reset();
        assert_eq!(u.last(), None);
    }
}
