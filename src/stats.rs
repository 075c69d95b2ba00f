//! `getStats()` in W3C names (webrtc-stats). ICE and DTLS entries
//! (`transport`, `candidate-pair`, `local-candidate`, `remote-candidate`,
//! `certificate`) start as rtc's own; [`link`] then makes the report a graph
//! whose every `*Id` resolves (rtc names a pair's candidates `candidate:X` but
//! the candidates `RTCLocalIceCandidate_candidate:X`, registers no remote
//! candidate that came in the SDP, and writes its timestamps in seconds). The
//! media entries come from sipwire's pipeline and its RTCP reports
//! (`remote-inbound-rtp`, `remote-outbound-rtp`, see [`crate::rtcp`]): our RTP
//! never passes through rtc's sender/receiver objects.

use crate::media::Media;
use crate::rtcp::Reporter;
use rtc::peer_connection::transport::RTCIceCandidate;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::statistics::report::RTCStatsReportEntry;
use rtc::statistics::StatsSelector;
use serde_json::{json, Map, Value};
use std::time::Instant;

/// What rtc's ICE transport knows, for the entries rtc does not write.
#[derive(Debug, Default, Clone)]
pub struct IceView {
    /// Local candidates.
    pub local: Vec<RTCIceCandidate>,
    /// Remote candidates (from the SDP and trickled).
    pub remote: Vec<RTCIceCandidate>,
    /// Our ICE username fragment (the SDP's `a=ice-ufrag`).
    pub local_ufrag: Option<String>,
    /// The far end's username fragment.
    pub remote_ufrag: Option<String>,
}

/// rtc's ICE/DTLS entries as JSON, and its ICE transport's view.
pub fn transport_entries(
    pc: &mut rtc::peer_connection::RTCPeerConnection,
    sender: Option<RTCRtpSenderId>,
    now: Instant,
) -> (Vec<Value>, IceView) {
    let report = pc.get_stats(now, StatsSelector::None);
    let entries = report
        .iter()
        .filter_map(|e| match e {
            RTCStatsReportEntry::Transport(s) => serde_json::to_value(s).ok(),
            RTCStatsReportEntry::IceCandidatePair(s) => serde_json::to_value(s).ok(),
            RTCStatsReportEntry::LocalCandidate(s) | RTCStatsReportEntry::RemoteCandidate(s) => {
                serde_json::to_value(s).ok()
            }
            RTCStatsReportEntry::Certificate(s) => serde_json::to_value(s).ok(),
            _ => None,
        })
        .map(|mut v| {
            // rtc writes timestamps as seconds since the epoch; W3C says ms.
            if let Some(o) = v.as_object_mut() {
                for (k, x) in o.iter_mut() {
                    if k == "timestamp" || k.ends_with("Timestamp") {
                        if let Some(f) = x.as_f64() {
                            *x = json!(f * 1000.0);
                        }
                    }
                }
            }
            v
        })
        .collect();
    let mut ice = IceView::default();
    if let Some(s) = sender.and_then(|id| pc.rtp_sender(id)) {
        if let Some(t) = s.transport() {
            let it = t.ice_transport();
            ice.local = it.get_local_candidates();
            ice.remote = it.get_remote_candidates();
            ice.local_ufrag = it.get_local_parameters().map(|p| p.username_fragment);
            ice.remote_ufrag = it.get_remote_parameters().map(|p| p.username_fragment);
        }
    }
    (entries, ice)
}

fn candidate_entry(
    c: &RTCIceCandidate,
    id: &str,
    typ: &str,
    tid: &str,
    ufrag: Option<&str>,
    timestamp: f64,
) -> Value {
    let mut v = json!({
        "id": id, "type": typ, "timestamp": timestamp, "transportId": tid,
        "address": c.address, "port": c.port,
        "protocol": c.protocol.to_string(),
        "candidateType": c.typ.to_string(),
        "priority": c.priority, "foundation": c.foundation,
    });
    if let Some(u) = ufrag {
        v["usernameFragment"] = json!(u);
    }
    v
}

/// Make `entries` one W3C graph: candidate entries for every candidate a
/// pair names (from `ice` when rtc wrote none), pair ids that name them,
/// the transport's `iceLocalUsernameFragment`, one `timestamp` for all, and
/// no empty `*Id` strings.
pub fn link(entries: &mut Vec<Value>, ice: &IceView, tid: &str, timestamp: f64) {
    const LOCAL: &str = "RTCLocalIceCandidate_";
    const REMOTE: &str = "RTCRemoteIceCandidate_";
    let has = |entries: &Vec<Value>, id: &str| entries.iter().any(|e| e["id"] == id);
    for c in &ice.local {
        let id = format!("{LOCAL}{}", c.id);
        if !has(entries, &id) {
            let e = candidate_entry(
                c,
                &id,
                "local-candidate",
                tid,
                ice.local_ufrag.as_deref(),
                timestamp,
            );
            entries.push(e);
        }
    }
    for c in &ice.remote {
        let id = format!("{REMOTE}{}", c.id);
        if !has(entries, &id) {
            let e = candidate_entry(
                c,
                &id,
                "remote-candidate",
                tid,
                ice.remote_ufrag.as_deref(),
                timestamp,
            );
            entries.push(e);
        }
    }
    let ids: std::collections::HashSet<String> = entries
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect();
    for e in entries.iter_mut() {
        let Some(o) = e.as_object_mut() else { continue };
        o.insert("timestamp".into(), json!(timestamp));
        for (key, prefix) in [("localCandidateId", LOCAL), ("remoteCandidateId", REMOTE)] {
            if let Some(raw) = o.get(key).and_then(Value::as_str).map(str::to_owned) {
                let full = format!("{prefix}{raw}");
                if !ids.contains(&raw) && ids.contains(&full) {
                    o.insert(key.into(), json!(full));
                }
            }
        }
        if o["type"] == "transport" {
            if let Some(u) = &ice.local_ufrag {
                o.insert("iceLocalUsernameFragment".into(), json!(u));
            }
        }
        drop_empty_ids(o);
    }
}

/// W3C leaves an unknown reference out; rtc writes `""`.
fn drop_empty_ids(o: &mut Map<String, Value>) {
    o.retain(|k, v| !(k.ends_with("Id") && v.as_str() == Some("")));
}

/// What a report reads from one peer connection, handed in by the peer (so
/// this module does not depend on it).
pub struct PeerView<'a> {
    /// The media pipeline (counters, codecs, SSRC, one-way delay).
    pub media: &'a Media,
    /// Our RTCP reporter (what the far end reports about us).
    pub rtcp: &'a Reporter,
    /// W3C `iceConnectionState`.
    pub ice_connection_state: &'a str,
    /// W3C `connectionState`.
    pub connection_state: &'a str,
    /// Our candidate lines, for `local-candidate` entries when the transport
    /// wrote none.
    pub candidates: &'a [String],
    /// For a plain-profile call (no ICE, no DTLS): the SRTP suite (SDES) and
    /// where media latched; `None` for ICE + DTLS.
    pub plain: Option<(Option<&'static str>, Option<std::net::SocketAddr>)>,
    /// Received video counters, when video was negotiated.
    pub video: Option<&'a crate::video::receiver::VideoStats>,
    /// Sent video counters, when we send video.
    pub video_send: Option<&'a crate::video::sender::VideoSendStats>,
}

impl PeerView<'_> {
    fn media(&self) -> &Media {
        self.media
    }
    fn rtcp(&self) -> &Reporter {
        self.rtcp
    }
    fn ice_connection_state(&self) -> &str {
        self.ice_connection_state
    }
    fn connection_state(&self) -> &str {
        self.connection_state
    }
    fn candidates(&self) -> &[String] {
        self.candidates
    }
}

/// Build the report entries for one peer; `transport` are the transport's
/// entries and its ICE view ([`transport_entries`]). `timestamp` is ms since
/// the epoch.
pub fn report(peer: &PeerView, transport: (Vec<Value>, IceView), timestamp: f64) -> Vec<Value> {
    let (transport, ice) = transport;
    let m = peer.media().stats();
    let mut out = vec![json!({
        "id": "P", "type": "peer-connection", "timestamp": timestamp,
    })];
    let rtc_transport = transport
        .iter()
        .find(|v| v["type"] == "transport")
        .and_then(|v| v["id"].as_str())
        .map(str::to_owned);
    let tid = rtc_transport.clone().unwrap_or_else(|| "T01".into());
    let have_candidates = transport.iter().any(|v| v["type"] == "local-candidate");
    out.extend(transport);
    let ours = json!({
        "id": "T01", "type": "transport", "timestamp": timestamp,
        "iceState": peer.ice_connection_state(),
        "dtlsState": match peer.connection_state() {
            "connected" => "connected", "closed" => "closed", "failed" => "failed", _ => "new",
        },
        "packetsSent": m.packets_sent, "packetsReceived": m.packets_received,
        "bytesSent": m.bytes_sent, "bytesReceived": m.bytes_received,
    });
    if let Some((cipher, latched)) = peer.plain {
        // No ICE, no DTLS: a transport with counters (and the SRTP suite
        // for SDES), no candidate, pair or certificate entries.
        let mut t = json!({
            "id": "T01", "type": "transport", "timestamp": timestamp,
            "packetsSent": m.packets_sent, "packetsReceived": m.packets_received,
            "bytesSent": m.bytes_sent, "bytesReceived": m.bytes_received,
        });
        if let Some(c) = cipher {
            t["srtpCipher"] = json!(c);
        }
        if let Some(a) = latched {
            // sipwire extension: where symmetric RTP latched.
            t["remoteAddress"] = json!(a.to_string());
        }
        out.push(t);
    } else if rtc_transport.is_none() {
        out.push(ours);
    }
    if let Some(send) = peer.media().send_codec() {
        out.push(json!({
            "id": format!("CO{}", send.pt), "type": "codec", "timestamp": timestamp,
            "payloadType": send.pt, "mimeType": format!("audio/{}", send.kind.mime_name()),
            "clockRate": send.kind.clock_rate(), "transportId": tid,
        }));
        out.push(json!({
            "id": format!("OT{}", peer.media().ssrc()), "type": "outbound-rtp", "timestamp": timestamp,
            "kind": "audio", "mediaType": "audio", "ssrc": peer.media().ssrc(),
            "packetsSent": m.packets_sent, "bytesSent": m.bytes_sent,
            "codecId": format!("CO{}", send.pt), "transportId": tid,
            "mediaSourceId": format!("MS{}", peer.media().ssrc()),
            "direction": peer.media().direction().as_str(),
        }));
        // What the far end reports about our stream (RTCP report blocks).
        let ri = peer.rtcp().remote_inbound();
        if ri.reports_received > 0 {
            let ssrc = peer.media().ssrc();
            out.push(json!({
                "id": format!("RI{ssrc}"), "type": "remote-inbound-rtp", "timestamp": timestamp,
                "kind": "audio", "ssrc": ssrc, "localId": format!("OT{ssrc}"),
                "transportId": tid, "codecId": format!("CO{}", send.pt),
                "packetsLost": ri.packets_lost, "fractionLost": ri.fraction_lost,
                "jitter": ri.jitter_rtp as f64 / send.kind.clock_rate() as f64,
                "roundTripTime": ri.round_trip_time,
                "totalRoundTripTime": ri.total_round_trip_time,
                "roundTripTimeMeasurements": ri.round_trip_time_measurements,
            }));
        }
    }
    if let Some(ssrc) = m.remote_ssrc {
        let mut inbound = json!({
            "id": format!("IT{ssrc}"), "type": "inbound-rtp", "timestamp": timestamp,
            "kind": "audio", "mediaType": "audio", "ssrc": ssrc,
            "packetsReceived": m.packets_received, "bytesReceived": m.bytes_received,
            "packetsLost": m.packets_lost, "jitter": m.jitter_seconds,
            "concealedFrames": m.concealed_frames, "framesDecoded": m.frames_decoded,
            "totalAudioEnergy": m.total_audio_energy, "audioLevel": m.audio_level,
            "transportId": tid,
        });
        if let Some(send) = peer.media().send_codec() {
            // The negotiated codec: the answer's payload types serve both directions.
            inbound["codecId"] = json!(format!("CO{}", send.pt));
        }
        if let Some(h) = peer.media().one_way_delay() {
            // sipwire extension (measureOneWayDelay): abs-send-time based.
            inbound["oneWayDelayP50"] = json!(h.quantile(0.5));
            inbound["oneWayDelayP99"] = json!(h.quantile(0.99));
            inbound["oneWayDelaySamples"] = json!(h.samples());
            inbound["oneWayDelayHistogram"] =
                Value::Object(h.nonempty_bins().map(|(k, c)| (k, json!(c))).collect());
        }
        out.push(inbound);
        let ro = peer.rtcp().remote_outbound();
        if ro.reports_received > 0 {
            out.push(json!({
                "id": format!("RO{ssrc}"), "type": "remote-outbound-rtp", "timestamp": timestamp,
                "kind": "audio", "ssrc": ssrc, "localId": format!("IT{ssrc}"), "transportId": tid,
                "packetsSent": ro.packets_sent, "bytesSent": ro.bytes_sent,
                "reportsSent": ro.reports_received,
            }));
        }
    }
    if let Some(v) = peer.video {
        out.extend(crate::video::receiver::stats_entries(v, timestamp, &tid));
    }
    if let Some(v) = peer.video_send {
        out.extend(crate::video::sender::stats_entries(v, timestamp, &tid));
    }
    // The track our outbound-rtp carries (W3C RTCAudioSourceStats).
    out.push(json!({
        "id": format!("MS{}", peer.media().ssrc()), "type": "media-source", "timestamp": timestamp,
        "kind": "audio", "trackIdentifier": "sipwire-audio",
    }));
    let fallback = if have_candidates || !ice.local.is_empty() || peer.plain.is_some() {
        &[][..]
    } else {
        peer.candidates()
    };
    for (i, c) in fallback.iter().enumerate() {
        let parts: Vec<&str> = c.split_whitespace().collect();
        out.push(json!({
            "id": format!("LC{i}"), "type": "local-candidate", "timestamp": timestamp,
            "transportId": tid,
            "address": parts.get(4), "port": parts.get(5).and_then(|p| p.parse::<u16>().ok()),
            "protocol": parts.get(2).map(|p| p.to_ascii_lowercase()),
            "candidateType": parts.get(7), "priority": parts.get(3).and_then(|p| p.parse::<u32>().ok()),
        }));
    }
    link(&mut out, &ice, &tid, timestamp);
    out
}
