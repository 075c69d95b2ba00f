//! `getStats()` in W3C names (webrtc-stats). ICE and DTLS entries
//! (`transport`, `candidate-pair`, `local-candidate`, `remote-candidate`,
//! `certificate`) are rtc's own, already W3C-shaped. The media entries come
//! from sipwire's pipeline and its RTCP reports (`remote-inbound-rtp`,
//! `remote-outbound-rtp`, see [`crate::rtcp`]): our RTP never passes through
//! rtc's sender/receiver objects.

use crate::peer::Peer;
use rtc::statistics::report::RTCStatsReportEntry;
use rtc::statistics::StatsSelector;
use serde_json::{json, Value};
use std::time::Instant;

/// rtc's ICE/DTLS entries as JSON.
pub fn transport_entries(
    pc: &mut rtc::peer_connection::RTCPeerConnection,
    now: Instant,
) -> Vec<Value> {
    let report = pc.get_stats(now, StatsSelector::None);
    report
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
        .collect()
}

/// Build the report entries for one peer; `transport` are rtc's entries.
pub fn report(peer: &Peer, transport: Vec<Value>, timestamp: f64) -> Vec<Value> {
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
    if rtc_transport.is_none() {
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
    if have_candidates {
        return out;
    }
    for (i, c) in peer.candidates().iter().enumerate() {
        let parts: Vec<&str> = c.split_whitespace().collect();
        out.push(json!({
            "id": format!("LC{i}"), "type": "local-candidate", "timestamp": timestamp,
            "transportId": tid,
            "address": parts.get(4), "port": parts.get(5).and_then(|p| p.parse::<u16>().ok()),
            "protocol": parts.get(2).map(|p| p.to_ascii_lowercase()),
            "candidateType": parts.get(7), "priority": parts.get(3).and_then(|p| p.parse::<u32>().ok()),
        }));
    }
    out
}
