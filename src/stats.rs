//! `getStats()` in W3C names (webrtc-stats). rtc 0.21.1 leaves
//! remote-inbound stats empty and consumes inbound RTCP itself, so the media
//! counters come from sipwire's own pipeline.

use crate::peer::Peer;
use serde_json::{json, Value};

/// Build the report entries for one peer.
pub fn report(peer: &Peer, timestamp: f64) -> Vec<Value> {
    let m = peer.media().stats();
    let mut out = vec![json!({
        "id": "P", "type": "peer-connection", "timestamp": timestamp,
    })];
    let transport = json!({
        "id": "T01", "type": "transport", "timestamp": timestamp,
        "iceState": peer.ice_connection_state(),
        "dtlsState": match peer.connection_state() {
            "connected" => "connected", "closed" => "closed", "failed" => "failed", _ => "new",
        },
        "packetsSent": m.packets_sent, "packetsReceived": m.packets_received,
        "bytesSent": m.bytes_sent, "bytesReceived": m.bytes_received,
    });
    out.push(transport);
    if let Some(send) = peer.media().send_codec() {
        out.push(json!({
            "id": format!("CO{}", send.pt), "type": "codec", "timestamp": timestamp,
            "payloadType": send.pt, "mimeType": format!("audio/{}", send.kind.mime_name()),
            "clockRate": send.kind.clock_rate(), "transportId": "T01",
        }));
        out.push(json!({
            "id": format!("OT{}", peer.media().ssrc()), "type": "outbound-rtp", "timestamp": timestamp,
            "kind": "audio", "mediaType": "audio", "ssrc": peer.media().ssrc(),
            "packetsSent": m.packets_sent, "bytesSent": m.bytes_sent,
            "codecId": format!("CO{}", send.pt), "transportId": "T01",
            "direction": peer.media().direction().as_str(),
        }));
    }
    if let Some(ssrc) = m.remote_ssrc {
        out.push(json!({
            "id": format!("IT{ssrc}"), "type": "inbound-rtp", "timestamp": timestamp,
            "kind": "audio", "mediaType": "audio", "ssrc": ssrc,
            "packetsReceived": m.packets_received, "bytesReceived": m.bytes_received,
            "packetsLost": m.packets_lost, "jitter": m.jitter_seconds,
            "concealedFrames": m.concealed_frames, "framesDecoded": m.frames_decoded,
            "totalAudioEnergy": m.total_audio_energy, "audioLevel": m.audio_level,
            "transportId": "T01",
        }));
    }
    for (i, c) in peer.candidates().iter().enumerate() {
        let parts: Vec<&str> = c.split_whitespace().collect();
        out.push(json!({
            "id": format!("LC{i}"), "type": "local-candidate", "timestamp": timestamp,
            "transportId": "T01",
            "address": parts.get(4), "port": parts.get(5).and_then(|p| p.parse::<u16>().ok()),
            "protocol": parts.get(2).map(|p| p.to_ascii_lowercase()),
            "candidateType": parts.get(7), "priority": parts.get(3).and_then(|p| p.parse::<u32>().ok()),
        }));
    }
    out
}
