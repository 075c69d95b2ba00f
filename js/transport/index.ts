export { WsTransport, type WsTransportOptions, type WsClientOptions } from "./ws-transport";
export {
  InMemorySipLink,
  InMemoryTransport,
  createInMemoryTransportPair,
  type InMemorySipLinkOptions,
  type InMemoryTransportOptions,
  type InMemoryTransportConstructor,
  type InMemoryTraceEvent,
} from "./in-memory";
export { UdpTransport, type UdpTransportOptions } from "./udp-transport";
export { TcpTransport, TlsTransport, type TcpTransportOptions, type TlsTransportOptions } from "./stream-transport";
export { SipSocketTransport, type SipSocketTransportOptions, type SipPeer } from "./sip-transport-base";
export { StreamFramer, SipFramingError, frameDatagram, type FramedItem, type StreamFramerOptions } from "./sip-framing";
export {
  SipReliability,
  DEFAULT_SIP_TIMERS,
  type SipTimerValues,
  type ReliabilityStats,
  type IncomingVerdict,
  type Transmit,
} from "./sip-retransmit";
export {
  resolveSipUri,
  orderSrv,
  systemSipResolver,
  type SipResolver,
  type SipAddress,
  type SrvRecord,
  type ResolveOptions,
  type SipTransportName,
} from "./sip-resolver";
export { parseSipMessage, parseSipTarget, type SipMessageInfo, type SipTarget } from "./sip-message";
