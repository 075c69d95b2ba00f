//! One-way delay from abs-send-time: stamping sent packets and sampling received ones.

use super::Media;
use crate::delay::DelayHistogram;
use bytes::Bytes;
use rtc::rtp::packet::Packet;

pub(super) struct OneWayDelay {
    /// Negotiated extmap id; `None` while the remote did not agree to it.
    ext_id: Option<u8>,
    histogram: DelayHistogram,
}

impl Media {
    /// Measure one-way delay (abs-send-time) once an extension id is set with
    /// [`Media::set_abs_send_time_id`]; allocates the histogram.
    pub fn enable_one_way_delay(&mut self) {
        self.one_way.get_or_insert_with(|| OneWayDelay {
            ext_id: None,
            histogram: DelayHistogram::default(),
        });
    }

    /// The negotiated abs-send-time extmap id (1-14, one-byte form), or
    /// `None` when not negotiated. Ignored unless measurement is enabled.
    pub fn set_abs_send_time_id(&mut self, id: Option<u8>) {
        if let Some(ow) = self.one_way.as_mut() {
            ow.ext_id = id.filter(|i| (1..=14).contains(i));
        }
    }

    /// Stamp an outgoing packet with its send time (since the UNIX epoch) if
    /// abs-send-time was negotiated.
    pub fn stamp_send_time(&self, pkt: &mut Packet, send_unix: std::time::Duration) {
        let Some(id) = self.one_way.as_ref().and_then(|o| o.ext_id) else {
            return;
        };
        let field = crate::delay::encode_abs_send_time(send_unix);
        // Cannot fail: id is 1-14 and 3 bytes fit the one-byte form.
        let _ = pkt.header.set_extension(id, Bytes::copy_from_slice(&field));
    }

    /// Take one delay sample from a received packet's abs-send-time, given
    /// its arrival time since the UNIX epoch.
    pub fn record_send_time(&mut self, pkt: &Packet, recv_unix: std::time::Duration) {
        let Some(ow) = self.one_way.as_mut() else {
            return;
        };
        let Some(id) = ow.ext_id else { return };
        let Some(sent) = pkt
            .header
            .get_extension(id)
            .and_then(|p| crate::delay::decode_abs_send_time(&p))
        else {
            return;
        };
        if let Some(d) = crate::delay::one_way_delay(sent, recv_unix) {
            ow.histogram.record(d);
        }
    }

    /// One-way delay samples, when measurement is enabled.
    pub fn one_way_delay(&self) -> Option<&DelayHistogram> {
        self.one_way.as_ref().map(|o| &o.histogram)
    }
}
