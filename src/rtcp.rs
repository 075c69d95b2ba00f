//! RTCP sender and receiver reports (RFC 3550 §6.4), built and read here
//! rather than by rtc's report interceptors.
//!
//! Why: rtc's interceptor chain sees every RTP packet in and out just to keep
//! the counters a report needs, which cost ~11% of all CPU at 500 calls
//! (profiled). [`crate::media::Media`] already keeps those counters, so one
//! compound packet every few seconds is all that is left to do. Reading the
//! peer's reports also gives `remote-inbound-rtp` (round-trip time, loss as
//! the far end sees it), which rtc 0.21.1 leaves empty.
//!
//! Pure state machine: the media tick count and the NTP time come in as
//! arguments; packets go out as values.
//!
//! ```
//! use sipwire::rtcp::{ntp_from_unix, Reporter, SenderInfo};
//! use std::time::Duration;
//! let mut r = Reporter::new(0x1234, 7);
//! let ntp = ntp_from_unix(Duration::from_secs(1_700_000_000));
//! let sender = SenderInfo { rtp_time: 160, packet_count: 1, octet_count: 160 };
//! // Nothing before the first interval has passed ...
//! assert!(r.poll(1, ntp, Some(sender), None).is_none());
//! // ... then an SR with an SDES CNAME.
//! let pkts = r.poll(1_000, ntp, Some(sender), None).unwrap();
//! assert_eq!(pkts.len(), 2);
//! ```

use rtc::interceptor::{
    Attribute, AttributedPacket, Interceptor, Packet as ChainPacket, StreamInfo, TaggedPacket,
};
use rtc::rtcp::goodbye::Goodbye;
use rtc::rtcp::packet::Packet;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtcp::source_description::{
    SdesType, SourceDescription, SourceDescriptionChunk, SourceDescriptionItem,
};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Seconds between 1900 (NTP era 0) and 1970 (UNIX epoch).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
/// First report this many 20 ms ticks after media starts (1 s), so short
/// calls and tests see one; then every ~5 s (RFC 3550's minimum interval),
/// randomised ×0.5–1.5 (§6.3.1) so calls started together do not report in
/// lock step.
const FIRST_TICKS: u64 = 50;
const INTERVAL_TICKS: u64 = 250;

/// 64-bit NTP timestamp (RFC 3550 §4) for a time since the UNIX epoch.
pub fn ntp_from_unix(unix: Duration) -> u64 {
    let secs = unix.as_secs() + NTP_UNIX_OFFSET;
    let frac = ((unix.subsec_nanos() as u64) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// The middle 32 bits of an NTP timestamp: the unit of LSR and DLSR (1/65536 s).
fn mid(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// What the sender side of an SR reports.
#[derive(Clone, Copy, Debug)]
pub struct SenderInfo {
    /// RTP timestamp matching the report's NTP time.
    pub rtp_time: u32,
    /// Packets sent so far.
    pub packet_count: u32,
    /// Payload octets sent so far.
    pub octet_count: u32,
}

/// What we know about the stream we receive, for a reception report block.
#[derive(Clone, Copy, Debug)]
pub struct Reception {
    /// The remote sender's SSRC.
    pub ssrc: u32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Packets expected so far (from sequence numbers).
    pub expected: u64,
    /// Packets received so far.
    pub received: u64,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
}

/// The far end's view of our stream (W3C `remote-inbound-rtp`), from the
/// report blocks it sends about our SSRC.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RemoteInbound {
    /// Report blocks about our SSRC received.
    pub reports_received: u64,
    /// Cumulative packets lost, as the far end counts them.
    pub packets_lost: i64,
    /// Fraction lost in the far end's last interval, 0..1.
    pub fraction_lost: f64,
    /// Far end's interarrival jitter in RTP timestamp units.
    pub jitter_rtp: u32,
    /// Latest round-trip time in seconds (needs an SR of ours echoed back).
    pub round_trip_time: Option<f64>,
    /// Sum of all round-trip times measured, seconds.
    pub total_round_trip_time: f64,
    /// Number of round-trip times measured.
    pub round_trip_time_measurements: u64,
}

/// The far end's sender reports (W3C `remote-outbound-rtp`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RemoteOutbound {
    /// SRs received.
    pub reports_received: u64,
    /// The far end's packet count in its latest SR.
    pub packets_sent: u32,
    /// The far end's octet count in its latest SR.
    pub bytes_sent: u32,
}

/// Schedules, builds and reads RTCP reports for one audio stream.
#[derive(Debug)]
pub struct Reporter {
    ssrc: u32,
    cname: bytes::Bytes,
    rng: u32,
    next_tick: Option<u64>,
    /// (middle 32 bits of the far end's last SR, our NTP when it arrived).
    last_sr: Option<(u32, u64)>,
    /// (expected, received) at the previous report, for fraction lost.
    prior: (u64, u64),
    reports_sent: u64,
    remote_inbound: RemoteInbound,
    remote_outbound: RemoteOutbound,
}

impl Reporter {
    /// A reporter for our stream `ssrc`; `seed` randomises the interval.
    pub fn new(ssrc: u32, seed: u32) -> Self {
        Reporter {
            ssrc,
            // The CNAME rtc writes in our SDP (a=ssrc:... cname:sipwire).
            cname: bytes::Bytes::from_static(b"sipwire"),
            rng: seed | 1,
            next_tick: None,
            last_sr: None,
            prior: (0, 0),
            reports_sent: 0,
            remote_inbound: RemoteInbound::default(),
            remote_outbound: RemoteOutbound::default(),
        }
    }

    /// Compound RTCP packet to send at media tick `tick`, if one is due (the
    /// first [`FIRST_TICKS`] after the first call): an
    /// SR when `sender` is given (we are sending), else an RR, each with a
    /// report block about `reception` if we receive, plus SDES CNAME.
    pub fn poll(
        &mut self,
        tick: u64,
        ntp: u64,
        sender: Option<SenderInfo>,
        reception: Option<Reception>,
    ) -> Option<Vec<Box<dyn Packet>>> {
        if !self.due(tick) {
            return None;
        }
        self.next_tick = Some(tick + self.interval());
        Some(self.compound(ntp, sender, reception))
    }

    /// RTCP for `close()` (RFC 3550 §6.6): the usual report and SDES, then a
    /// BYE for our SSRC, so the far end learns of the hang-up at once.
    pub fn goodbye(
        &mut self,
        ntp: u64,
        sender: Option<SenderInfo>,
        reception: Option<Reception>,
    ) -> Vec<Box<dyn Packet>> {
        let mut pkts = self.compound(ntp, sender, reception);
        pkts.push(Box::new(Goodbye {
            sources: vec![self.ssrc],
            reason: bytes::Bytes::new(),
        }));
        pkts
    }

    fn compound(
        &mut self,
        ntp: u64,
        sender: Option<SenderInfo>,
        reception: Option<Reception>,
    ) -> Vec<Box<dyn Packet>> {
        let reports: Vec<ReceptionReport> =
            reception.map(|r| self.block(r, ntp)).into_iter().collect();
        let first: Box<dyn Packet> = match sender {
            Some(s) => Box::new(SenderReport {
                ssrc: self.ssrc,
                ntp_time: ntp,
                rtp_time: s.rtp_time,
                packet_count: s.packet_count,
                octet_count: s.octet_count,
                reports,
                profile_extensions: bytes::Bytes::new(),
            }),
            None => Box::new(ReceiverReport {
                ssrc: self.ssrc,
                reports,
                profile_extensions: bytes::Bytes::new(),
            }),
        };
        let sdes = SourceDescription {
            chunks: vec![SourceDescriptionChunk {
                source: self.ssrc,
                items: vec![SourceDescriptionItem {
                    sdes_type: SdesType::SdesCname,
                    text: self.cname.clone(),
                }],
            }],
        };
        self.reports_sent += 1;
        vec![first, Box::new(sdes)]
    }

    /// Whether [`Reporter::poll`] would send at `tick`, so the caller can
    /// skip gathering its inputs on the other ticks. The first call starts
    /// the schedule.
    pub fn due(&mut self, tick: u64) -> bool {
        tick >= *self.next_tick.get_or_insert(tick + FIRST_TICKS)
    }

    /// Read a received compound RTCP packet; `ntp` is our time of arrival.
    pub fn on_rtcp(&mut self, packets: &[Box<dyn Packet>], ntp: u64) {
        for p in packets {
            let any = p.as_any();
            if let Some(sr) = any.downcast_ref::<SenderReport>() {
                self.last_sr = Some((mid(sr.ntp_time), ntp));
                self.remote_outbound.reports_received += 1;
                self.remote_outbound.packets_sent = sr.packet_count;
                self.remote_outbound.bytes_sent = sr.octet_count;
                self.read_blocks(&sr.reports, ntp);
            } else if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                self.read_blocks(&rr.reports, ntp);
            }
        }
    }

    /// True when `packets` (one received compound) holds an RTCP BYE that
    /// names `ssrc`, the source we receive.
    pub fn has_bye_for(packets: &[Box<dyn Packet>], ssrc: u32) -> bool {
        packets.iter().any(|p| {
            p.as_any()
                .downcast_ref::<Goodbye>()
                .is_some_and(|b| b.sources.contains(&ssrc))
        })
    }

    /// Reports sent so far.
    pub fn reports_sent(&self) -> u64 {
        self.reports_sent
    }

    /// The far end's view of our stream.
    pub fn remote_inbound(&self) -> &RemoteInbound {
        &self.remote_inbound
    }

    /// The far end's sender reports.
    pub fn remote_outbound(&self) -> &RemoteOutbound {
        &self.remote_outbound
    }

    fn interval(&mut self) -> u64 {
        // xorshift32: enough to spread report times, no need for rand here.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 17;
        self.rng ^= self.rng << 5;
        let f = 0.5 + (self.rng % 1000) as f64 / 1000.0;
        (INTERVAL_TICKS as f64 * f) as u64
    }

    fn block(&mut self, r: Reception, ntp: u64) -> ReceptionReport {
        let exp = r.expected.saturating_sub(self.prior.0);
        let rec = r.received.saturating_sub(self.prior.1);
        self.prior = (r.expected, r.received);
        let lost_interval = exp.saturating_sub(rec);
        let fraction_lost = (lost_interval << 8)
            .checked_div(exp)
            .map_or(0, |f| f.min(255) as u8);
        // 24-bit signed cumulative loss, clamped (RFC 3550 §6.4.1).
        let lost = (r.expected as i64 - r.received as i64).clamp(-0x80_0000, 0x7F_FFFF);
        let (lsr, dlsr) = match self.last_sr {
            Some((lsr, at)) => (lsr, mid(ntp).wrapping_sub(mid(at))),
            None => (0, 0),
        };
        ReceptionReport {
            ssrc: r.ssrc,
            fraction_lost,
            total_lost: (lost as u32) & 0xFF_FFFF,
            last_sequence_number: r.highest_seq,
            jitter: r.jitter,
            last_sender_report: lsr,
            delay: dlsr,
        }
    }

    fn read_blocks(&mut self, blocks: &[ReceptionReport], ntp: u64) {
        for b in blocks.iter().filter(|b| b.ssrc == self.ssrc) {
            let ri = &mut self.remote_inbound;
            ri.reports_received += 1;
            ri.fraction_lost = b.fraction_lost as f64 / 256.0;
            // Sign-extend the 24-bit field.
            ri.packets_lost = (((b.total_lost & 0xFF_FFFF) << 8) as i32 >> 8) as i64;
            ri.jitter_rtp = b.jitter;
            if b.last_sender_report != 0 {
                // RFC 3550 §6.4.1: RTT = A - LSR - DLSR, in 1/65536 s.
                let rtt = mid(ntp)
                    .wrapping_sub(b.last_sender_report)
                    .wrapping_sub(b.delay);
                let rtt = rtt as f64 / 65536.0;
                if rtt < 60.0 {
                    ri.round_trip_time = Some(rtt);
                    ri.total_round_trip_time += rtt;
                    ri.round_trip_time_measurements += 1;
                }
            }
        }
    }
}

/// The one interceptor sipwire installs: it marks inbound RTCP for delivery
/// to the application. rtc's chain ends in a terminus that drops inbound RTCP
/// nobody asked for; without the report interceptors, this is what lets the
/// far end's reports reach [`Reporter::on_rtcp`]. RTP passes untouched.
#[derive(Default)]
pub struct DeliverRtcp {
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl rtc::sansio::Protocol<TaggedPacket, TaggedPacket, ()> for DeliverRtcp {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let ChainPacket::Rtcp(pkts) = &mut msg.message.packet {
            msg.message.attributes.push(Attribute::DeliverToApplication);
            if pkts.len() > 1 {
                // rtc hands a compound packet to the application only when
                // the first SSRC its first packet names belongs to a track;
                // a browser's receiver report about our RTX stream first
                // (rtc ties RTX to no track) would drop the NACKs and PLIs
                // behind it. One packet each: each is judged on its own.
                let rest: Vec<_> = pkts.drain(1..).collect();
                let (now, transport) = (msg.now, msg.transport);
                self.reads.push_back(msg);
                for p in rest {
                    self.reads.push_back(TaggedPacket {
                        now,
                        transport,
                        message: AttributedPacket::new(ChainPacket::Rtcp(vec![p]))
                            .with(Attribute::DeliverToApplication),
                    });
                }
                return Ok(());
            }
        }
        self.reads.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.writes.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.writes.pop_front()
    }

    fn handle_timeout(&mut self, _now: Instant) -> Result<(), Self::Error> {
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
}

impl Interceptor for DeliverRtcp {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ntp(ms: u64) -> u64 {
        ntp_from_unix(Duration::from_millis(1_700_000_000_000 + ms))
    }

    #[test]
    fn ntp_epoch_and_fraction() {
        let n = ntp_from_unix(Duration::from_millis(1500));
        assert_eq!(n >> 32, NTP_UNIX_OFFSET + 1);
        assert_eq!(n & 0xFFFF_FFFF, 1 << 31);
    }

    #[test]
    fn schedule_first_after_a_second_then_randomised_around_five() {
        let mut r = Reporter::new(1, 99);
        let mut sent = vec![];
        for t in 0..5_000u64 {
            if r.poll(t, ntp(t * 20), None, None).is_some() {
                sent.push(t);
            }
        }
        assert_eq!(sent[0], FIRST_TICKS);
        for w in sent.windows(2) {
            let gap = w[1] - w[0];
            assert!((125..=375).contains(&gap), "gap {gap}");
        }
        assert_eq!(r.reports_sent(), sent.len() as u64);
    }

    #[test]
    fn rr_when_not_sending_sr_when_sending() {
        let mut r = Reporter::new(1, 5);
        assert!(r.poll(0, ntp(0), None, None).is_none());
        let p = r.poll(FIRST_TICKS, ntp(0), None, None).unwrap();
        assert!(p[0].as_any().is::<ReceiverReport>());
        assert!(p[1].as_any().is::<SourceDescription>());
        let s = SenderInfo {
            rtp_time: 8000,
            packet_count: 50,
            octet_count: 8000,
        };
        let p = r.poll(10_000, ntp(1000), Some(s), None).unwrap();
        let sr = p[0].as_any().downcast_ref::<SenderReport>().unwrap();
        assert_eq!((sr.packet_count, sr.rtp_time), (50, 8000));
    }

    #[test]
    fn round_trip_and_loss_between_two_reporters() {
        // a sends an SR at t=0; b receives it 10 ms later and answers 490 ms
        // after that; a reads b's block 10 ms later: RTT 20 ms.
        let mut a = Reporter::new(0xA, 1);
        let mut b = Reporter::new(0xB, 2);
        let s = SenderInfo {
            rtp_time: 0,
            packet_count: 100,
            octet_count: 16_000,
        };
        assert!(a.poll(0, ntp(0), Some(s), None).is_none());
        assert!(b.poll(0, ntp(0), None, None).is_none());
        let sr = a.poll(FIRST_TICKS, ntp(0), Some(s), None).unwrap();
        b.on_rtcp(&sr, ntp(10));
        assert_eq!(b.remote_outbound().packets_sent, 100);
        let rec = Reception {
            ssrc: 0xA,
            highest_seq: 109,
            expected: 110,
            received: 100,
            jitter: 12,
        };
        let rr = b.poll(FIRST_TICKS, ntp(500), None, Some(rec)).unwrap();
        let block = &rr[0]
            .as_any()
            .downcast_ref::<ReceiverReport>()
            .unwrap()
            .reports[0];
        assert_eq!(block.fraction_lost, (10 * 256 / 110) as u8);
        assert_eq!(block.total_lost, 10);
        a.on_rtcp(&rr, ntp(510));
        let ri = a.remote_inbound();
        assert_eq!(ri.packets_lost, 10);
        assert_eq!(ri.jitter_rtp, 12);
        let rtt = ri.round_trip_time.unwrap();
        assert!((rtt - 0.020).abs() < 0.001, "rtt {rtt}");
        assert_eq!(ri.round_trip_time_measurements, 1);
    }

    #[test]
    fn blocks_about_other_ssrcs_and_no_lsr_are_ignored_for_rtt() {
        let mut a = Reporter::new(0xA, 1);
        let rr: Vec<Box<dyn Packet>> = vec![Box::new(ReceiverReport {
            ssrc: 0xB,
            reports: vec![
                ReceptionReport {
                    ssrc: 0xC,
                    total_lost: 5,
                    ..Default::default()
                },
                ReceptionReport {
                    ssrc: 0xA,
                    total_lost: 0xFF_FFFF, // -1: duplicates
                    ..Default::default()
                },
            ],
            profile_extensions: bytes::Bytes::new(),
        })];
        a.on_rtcp(&rr, ntp(0));
        let ri = a.remote_inbound();
        assert_eq!(ri.reports_received, 1);
        assert_eq!(ri.packets_lost, -1);
        assert_eq!(ri.round_trip_time, None);
    }

    #[test]
    fn compound_round_trips_through_rtc_marshal() {
        let mut r = Reporter::new(7, 1);
        let _ = r.poll(0, 0, None, None);
        let s = SenderInfo {
            rtp_time: 1,
            packet_count: 2,
            octet_count: 3,
        };
        let rec = Reception {
            ssrc: 9,
            highest_seq: 5,
            expected: 5,
            received: 5,
            jitter: 1,
        };
        let p = r.poll(100, 1 << 40, Some(s), Some(rec)).unwrap();
        let mut bytes = rtc::rtcp::packet::marshal(&p).unwrap();
        let back = rtc::rtcp::packet::unmarshal(&mut bytes).unwrap();
        assert_eq!(back.len(), 2);
    }

    #[test]
    fn chain_delivers_inbound_rtcp() {
        use rtc::interceptor::{AttributedPacket, Registry, Slot};
        use rtc::sansio::Protocol;
        let mut chain = Registry::new()
            .with(Slot::ReceiverReport, DeliverRtcp::default())
            .build();
        let rr: Vec<Box<dyn Packet>> = vec![Box::new(ReceiverReport::default())];
        chain
            .handle_read(TaggedPacket {
                now: Instant::now(),
                transport: Default::default(),
                message: AttributedPacket {
                    attributes: vec![],
                    packet: ChainPacket::Rtcp(rr),
                },
            })
            .unwrap();
        assert!(chain.poll_read().is_some());
    }

    #[test]
    fn compound_packets_are_delivered_one_packet_at_a_time() {
        use rtc::rtcp::transport_feedbacks::transport_layer_nack::{
            nack_pairs_from_sequence_numbers, TransportLayerNack,
        };
        use rtc::sansio::Protocol;
        // A browser's report about our RTX stream, then a NACK for our video.
        let rr = ReceiverReport {
            ssrc: 1,
            reports: vec![ReceptionReport {
                ssrc: 0x5001,
                ..Default::default()
            }],
            ..Default::default()
        };
        let nack = TransportLayerNack {
            sender_ssrc: 1,
            media_ssrc: 0x5000,
            nacks: nack_pairs_from_sequence_numbers(&[7]),
        };
        let mut d = DeliverRtcp::default();
        d.handle_read(TaggedPacket {
            now: Instant::now(),
            transport: Default::default(),
            message: AttributedPacket::new(ChainPacket::Rtcp(vec![Box::new(rr), Box::new(nack)])),
        })
        .unwrap();
        let mut firsts = vec![];
        while let Some(m) = d.poll_read() {
            assert!(m.message.has(&Attribute::DeliverToApplication));
            let ChainPacket::Rtcp(p) = &m.message.packet else {
                panic!("RTCP in, RTCP out");
            };
            assert_eq!(p.len(), 1);
            firsts.push(p[0].destination_ssrc()[0]);
        }
        assert_eq!(
            firsts,
            [0x5001, 0x5000],
            "the NACK is routed by its own SSRC"
        );
    }
}
