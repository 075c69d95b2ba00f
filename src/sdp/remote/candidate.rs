//! Remote ICE candidates, rewritten into the form rtc accepts or dropped with a reason.

use std::net::IpAddr;

/// Normalise one candidate value (without `a=candidate:`) into the form rtc's
/// `unmarshal_candidate` accepts, or say why it must be dropped.
pub fn normalize_candidate(value: &str) -> Result<String, &'static str> {
    let f: Vec<&str> = value.split_whitespace().collect();
    if f.len() < 8 || !f[6].eq_ignore_ascii_case("typ") {
        return Err("malformed");
    }
    let transport = f[2].to_ascii_lowercase();
    if transport.starts_with("tcp") {
        return Err("tcp");
    }
    if transport != "udp" {
        return Err("transport");
    }
    let component: u16 = f[1].parse().map_err(|_| "malformed")?;
    if component != 1 {
        return Err("rtcp-component");
    }
    f[3].parse::<u32>().map_err(|_| "priority")?;
    let addr = f[4];
    if addr.to_ascii_lowercase().ends_with(".local") {
        return Err("mdns");
    }
    if addr.parse::<IpAddr>().is_err() {
        return Err("hostname");
    }
    let port: u16 = f[5].parse().map_err(|_| "malformed")?;
    if port == 0 {
        return Err("port-zero");
    }
    let typ = f[7].to_ascii_lowercase();
    if !["host", "srflx", "prflx", "relay"].contains(&typ.as_str()) {
        return Err("unknown-type");
    }
    let rest = &f[8..];
    if rest
        .first()
        .is_some_and(|r| r.eq_ignore_ascii_case("raddr"))
        && (rest.len() < 4 || rest[3].parse::<u16>().is_err())
    {
        return Err("malformed");
    }
    let foundation = match f[0].parse::<u32>() {
        Ok(_) => f[0].to_string(),
        Err(_) => fnv1a32(f[0]).to_string(),
    };
    let mut out = vec![
        foundation,
        component.to_string(),
        "udp".to_string(),
        f[3].to_string(),
        addr.to_string(),
        port.to_string(),
        "typ".to_string(),
        typ,
    ];
    for r in rest {
        out.push(
            if r.eq_ignore_ascii_case("raddr") || r.eq_ignore_ascii_case("rport") {
                r.to_ascii_lowercase()
            } else {
                r.to_string()
            },
        );
    }
    Ok(out.join(" "))
}

/// 32-bit FNV-1a, used for stable candidate foundations.
pub fn fnv1a32(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}
